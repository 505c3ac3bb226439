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
 * @param convertible     whether --weight-dtype fp8 applies (the transformer)
 */
public record Component(String name, Phase phase, long fileBytes, String storedDtype, long matrixParams,
                        long workspaceBytes, long blockBytes, int blockCount, boolean convertible) {

    public boolean streamable() { return blockBytes > 0 && blockCount > 1; }

    /** Bytes of the weights when fully resident in {@code dtype}. */
    public long weightBytes(WeightDtype dtype) {
        if (dtype == WeightDtype.FP8 && convertible && !storedDtype.startsWith("F8")) {
            long matrixStored = matrixParams * bytesPerParam();
            return fileBytes - matrixStored + matrixParams;
        }
        return fileBytes;
    }

    /** Bytes of one block in {@code dtype}. */
    public long blockBytes(WeightDtype dtype) {
        if (dtype == WeightDtype.FP8 && convertible && !storedDtype.startsWith("F8")) return blockBytes / bytesPerParam();
        return blockBytes;
    }

    private int bytesPerParam() {
        return switch (storedDtype) {
            case "F32" -> 4;
            case "F8_E4M3", "F8_E5M2" -> 1;
            default -> 2;
        };
    }
}
