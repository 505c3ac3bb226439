package fluxj.memory;

import java.util.List;

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
            return fileBytes - matrixStored + converted(matrixParams, dtype) + copyBytes;
        }
        return fileBytes + copyBytes;
    }

    /** Bytes of {@code params} matrix weights converted to {@code dtype}: one each for FP8, 34 per 32 for Q8_0 blocks. */
    private static long converted(long params, WeightDtype dtype) {
        return dtype == WeightDtype.Q8_0 ? params / 32 * 34 : params;
    }

    /** The dtype the weight matrices are resident in, e.g. "BF16", "F8_E4M3", "Q8_0". */
    public String residentDtype(WeightDtype dtype) {
        return !shrinks(dtype) ? storedDtype : dtype == WeightDtype.FP8 ? "F8_E4M3" : "Q8_0";
    }

    /** Bytes of the largest block in {@code dtype}. */
    public long blockBytes(WeightDtype dtype) { return shrunk(blockBytes, dtype); }

    /** Bytes of all blocks in {@code dtype}. */
    public long blocksBytes(WeightDtype dtype) { return shrunk(blocksBytes, dtype); }

    /** Block bytes are almost all matrix weights, which FP8 stores in one byte per parameter, Q8_0 in 34 per 32. */
    private long shrunk(long bytes, WeightDtype dtype) {
        return shrinks(dtype) ? converted(bytes / bytesPerParam(), dtype) : bytes;
    }

    /**
     * Whether holding the weights as {@code dtype} means converting them, which makes them smaller: FP8 or Q8_0 for
     * a convertible model stored as F32, F16 or BF16 (FP8 and GGUF files are kept as they are).
     */
    public boolean shrinks(WeightDtype dtype) {
        return dtype != WeightDtype.STORED && convertible && List.of("F32", "F16", "BF16").contains(storedDtype);
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
