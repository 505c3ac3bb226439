package fluxj.memory;

import fluxj.io.Checkpoint;
import fluxj.tensor.Attention;
import fluxj.tensor.DType;
import fluxj.tensor.Matmul;
import fluxj.tensor.Tensor;

import java.util.EnumMap;
import java.util.Map;
import java.util.function.Predicate;

/** Turns a checkpoint and the run's sizes into the planner's {@link Component}s. */
public final class Sizing {
    private Sizing() {}

    /** The dtype holding most bytes of the checkpoint's weight matrices (rank >= 2). */
    public static String dominantDtype(Checkpoint ck) {
        Map<DType, Long> bytes = new EnumMap<>(DType.class);
        for (Tensor t : ck.tensors().values()) if (t.rank() >= 2) bytes.merge(t.dtype(), t.data().byteSize(), Long::sum);
        return bytes.entrySet().stream().max(Map.Entry.comparingByValue()).map(e -> e.getKey().name()).orElse("F32");
    }

    /** Parameters held in weight matrices (rank >= 2), the part FP8 conversion shrinks. */
    public static long matrixParams(Checkpoint ck) {
        return ck.tensors().values().stream().filter(t -> t.rank() >= 2).mapToLong(Tensor::numel).sum();
    }

    public static long tensorBytes(Checkpoint ck) {
        return ck.tensors().values().stream().mapToLong(t -> t.data().byteSize()).sum();
    }

    /** A component described from its checkpoint; streamable when it has repeated blocks and {@code streamable}. */
    public static Component component(String name, Phase phase, Checkpoint ck, long workspace, boolean streamable, boolean convertible) {
        BlockLayout layout = BlockLayout.of(ck);
        long bytes = tensorBytes(ck);
        return new Component(name, phase, bytes, dominantDtype(ck), matrixParams(ck), workspace,
                streamable ? layout.largestBlockBytes() : 0, streamable ? layout.blocks().size() : 0,
                streamable ? bytes - layout.otherBytes() : 0, convertible);
    }

    /**
     * A component made of some of the checkpoint's tensors (those whose names {@code part} accepts), such as one
     * half of the autoencoder: only the pages of those tensors are touched while it runs. Not streamable, not
     * convertible.
     */
    public static Component part(String name, Phase phase, Checkpoint ck, Predicate<String> part) {
        long bytes = 0, params = 0;
        Map<DType, Long> byDtype = new EnumMap<>(DType.class);
        for (var e : ck.tensors().entrySet()) {
            if (!part.test(e.getKey())) continue;
            Tensor t = e.getValue();
            bytes += t.data().byteSize();
            if (t.rank() >= 2) {
                params += t.numel();
                byDtype.merge(t.dtype(), t.data().byteSize(), Long::sum);
            }
        }
        String dtype = byDtype.entrySet().stream().max(Map.Entry.comparingByValue()).map(e -> e.getKey().name()).orElse("F32");
        return new Component(name, phase, bytes, dtype, params, 0, 0, 0, 0, false);
    }

    /**
     * Heap for one transformer forward over {@code tokens} (image + text): the residual streams, the fused
     * projections of the widest block (single-stream linear1: 3*hidden + mlp) and its attention and MLP outputs.
     */
    public static long transformerWorkspace(int tokens, int hidden, int mlpHidden) {
        return 4L * tokens * (10L * hidden + 2L * mlpHidden) + (64L << 20);
    }

    /**
     * Native bytes of the matmul backend's buffers for one transformer forward over {@code tokens} (oneDNN's, sized
     * by the widest product and the attention; none for the Java kernel).
     */
    public static long transformerNative(int tokens, int hidden, int mlpHidden) {
        return Matmul.kernel().bufferBytes(tokens, hidden + mlpHidden, 3 * hidden + mlpHidden) + Attention.bufferBytes(tokens, tokens, 1, hidden);
    }

    /** Heap for a text-encoder pass (T5 or CLIP): hidden states, q/k/v, the (gated) MLP and [heads, L, L] scores or bias. */
    public static long encoderWorkspace(int tokens, int dModel, int inner, int dFf, int heads) {
        return 4L * tokens * (3L * dModel + 4L * inner + 3L * dFf) + 4L * heads * tokens * tokens + (16L << 20);
    }
}
