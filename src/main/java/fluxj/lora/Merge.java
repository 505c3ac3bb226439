package fluxj.lora;

import fluxj.tensor.DType;
import fluxj.tensor.Parallel;
import fluxj.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Adds LoRA deltas to weight rows: {@code W' = float32(float64(W) + sum of weight * delta)}, one rounding per
 * element, whatever the stored dtype of W (the float32 value the model would use: widened, or FP8 times its scale).
 */
final class Merge {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Merge() {}

    /**
     * Rows [row, row + base.rows()) of a layer of {@code layerRows} rows, {@code base} (null: zeros) plus every patch
     * covering them, as a float32 tensor of {@code cols} columns ({@code cols} > base columns: the new inputs of a
     * widened layer start at zero) allocated from {@code arena}.
     */
    static Tensor rows(Tensor base, String name, int row, int rows, int cols, int layerRows, List<Patch> patches, Arena arena) {
        MemorySegment out = arena.allocate((long) rows * cols * 4, 64);
        int baseCols = base == null ? 0 : base.cols();
        Parallel.forEach(rows, i -> {
            double[] acc = new double[cols];
            for (int c = 0; c < baseCols; c++) acc[c] = base.get((long) i * baseCols + c);
            addDeltas(row + i, layerRows, patches, acc);
            long o = (long) i * cols * 4;
            for (int c = 0; c < cols; c++) out.set(F32, o + 4L * c, (float) acc[c]);
        });
        return new Tensor(name, DType.F32, new long[]{rows, cols}, out, "LoRA-merged " + name);
    }

    /** {@code acc += sum of weight * delta row}, for layer row {@code layerRow}, over the patches covering it. */
    static void addDeltas(int layerRow, int layerRows, List<Patch> patches, double[] acc) {
        for (Patch p : patches) {
            if (p.delta() == null) continue;
            int local = deltaRow(p.target(), layerRow, layerRows);
            if (local >= 0) p.delta().addRow(local, p.weight(), acc);
        }
    }

    /**
     * The row of {@code t}'s delta that lands on layer row {@code layerRow}, or -1 when it covers no such row. A
     * swapped target takes its delta's second half first (diffusers' [scale; shift] onto BFL's [shift; scale]).
     */
    static int deltaRow(Target t, int layerRow, int layerRows) {
        int rows = t.rowsIn(layerRows), local = layerRow - t.row();
        if (local < 0 || local >= rows) return -1;
        return t.swapHalves() ? (local + rows / 2) % rows : local;
    }

    /** {@code float32(float64(b) + sum of weight * bias delta)} for the part of a bias at layer rows [row, ...). */
    static float[] bias(float[] bias, int row, int layerRows, List<Patch> patches) {
        float[] out = bias.clone();
        for (int i = 0; i < out.length; i++) {
            double acc = bias[i];
            for (Patch p : patches) {
                if (p.bias() == null) continue;
                int local = deltaRow(p.target(), row + i, layerRows);
                if (local >= 0) acc += p.weight() * p.bias().get(local);
            }
            out[i] = (float) acc;
        }
        return out;
    }
}
