package fluxj.memory;

/**
 * What the planner knows of one model component before anything is loaded.
 *
 * @param fileBytes       bytes of its weight files (what stays mapped when fully resident in the stored dtype)
 * @param storedDtype     the dominant dtype of its weight matrices, e.g. "BF16"
 * @param matrixParams    parameters in weight matrices (what FP8 conversion shrinks to one byte each)
 * @param workspaceBytes  activation memory its forward pass needs at this run's sizes (heap)
 * @param blockBytes      stored bytes of its largest repeated block, or 0 when it cannot be streamed
 * @param blockCount      the number of such blocks
 * @param blocksBytes     stored bytes of all its blocks together (the rest stays resident when streamed)
 * @param convertible     whether --weight-dtype fp8 applies (the transformer)
 * @param copyBytes       copies of its weights the model makes on first use (e.g. reordered for a kernel) and holds
 *                        while loaded: resident beside the mapped file, whatever the dtype or streaming
 */
public record Component(String name, Phase phase, long fileBytes, String storedDtype, long matrixParams,
                        long workspaceBytes, long blockBytes, int blockCount, long blocksBytes, boolean convertible,
                        long copyBytes) {

    /** A component whose model uses its mapped weights as they are. */
    public Component(String name, Phase phase, long fileBytes, String storedDtype, long matrixParams,
                     long workspaceBytes, long blockBytes, int blockCount, long blocksBytes, boolean convertible) {
        this(name, phase, fileBytes, storedDtype, matrixParams, workspaceBytes, blockBytes, blockCount, blocksBytes, convertible, 0);
    }

    public boolean streamable() { return blockBytes > 0 && blockCount > 1; }

    /** Bytes of the weights (and their copies) when fully resident in {@code dtype}. */
    public long weightBytes(WeightDtype dtype) {
        if (shrinks(dtype)) {
            long matrixStored = matrixParams * bytesPerParam();
            return fileBytes - matrixStored + matrixParams + copyBytes;
        }
        return fileBytes + copyBytes;
    }

    /** Bytes of the largest block in {@code dtype}. */
    public long blockBytes(WeightDtype dtype) { return shrunk(blockBytes, dtype); }

    /** Bytes of all blocks in {@code dtype}. */
    public long blocksBytes(WeightDtype dtype) { return shrunk(blocksBytes, dtype); }

    /** Block bytes are almost all matrix weights, which FP8 stores in one byte per parameter. */
    private long shrunk(long bytes, WeightDtype dtype) {
        return shrinks(dtype) ? bytes / bytesPerParam() : bytes;
    }

    /** Whether holding the weights as {@code dtype} makes them smaller: FP8 for a convertible, not yet FP8 model. */
    private boolean shrinks(WeightDtype dtype) {
        return dtype == WeightDtype.FP8 && convertible && !storedDtype.startsWith("F8");
    }

    /** This component with the activation memory of a particular run. */
    public Component withWorkspace(long bytes) {
        return new Component(name, phase, fileBytes, storedDtype, matrixParams, bytes, blockBytes, blockCount, blocksBytes, convertible, copyBytes);
    }

    /** This component with the weight copies its model makes with this run's kernels. */
    public Component withCopies(long bytes) {
        return new Component(name, phase, fileBytes, storedDtype, matrixParams, workspaceBytes, blockBytes, blockCount, blocksBytes, convertible, bytes);
    }

    private int bytesPerParam() {
        return switch (storedDtype) {
            case "F32" -> 4;
            case "F8_E4M3", "F8_E5M2" -> 1;
            default -> 2;
        };
    }
}
