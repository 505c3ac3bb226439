package fluxj.flux;

/**
 * Changes the weights the transformer uses while it is built over a checkpoint's mapped tensors (LoRA: merged
 * copies, or terms added beside the matmul), so a different patch set means building the model again over the
 * same mapping, never re-reading its files. Module and vector names are BFL's, whatever the checkpoint layout.
 */
public interface WeightPatcher {
    WeightPatcher NONE = new WeightPatcher() {};

    /**
     * The inputs BFL linear layer {@code module}, stored with {@code stored}, takes in the patched model: more when a
     * patch widens it (a Canny/Depth control LoRA's img_in), the new inputs' weights starting at zero. The parts
     * {@link #linear} returns for it are then that wide.
     */
    default int inputs(String module, int stored) { return stored; }

    /** The part of BFL linear layer {@code module} that holds its output rows [row, row + part.out()). */
    default Linear.Part linear(String module, int row, Linear.Part part) { return part; }

    /** BFL vector {@code name} (an RMSNorm scale) as the model will use it. */
    default float[] vector(String name, float[] stored) { return stored; }
}
