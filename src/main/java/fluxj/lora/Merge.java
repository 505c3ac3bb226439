package fluxj.lora;

import fluxj.tensor.DType;
import fluxj.tensor.Parallel;
import fluxj.tensor.Tensor;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;

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
        List<Prepared> prepared = patches.stream().filter(p -> p.delta() != null).map(Prepared::of).toList();
        int blocks = (rows + BLOCK - 1) / BLOCK;
        Parallel.forEach(blocks, b -> {
            int i0 = b * BLOCK, n = Math.min(BLOCK, rows - i0);
            double[][] acc = new double[n][cols];
            for (int i = 0; i < n; i++) for (int c = 0; c < baseCols; c++) acc[i][c] = base.get((long) (i0 + i) * baseCols + c);
            for (Prepared p : prepared) p.add(row + i0, n, layerRows, acc);
            for (int i = 0; i < n; i++) {
                long o = (long) (i0 + i) * cols * 4;
                for (int c = 0; c < cols; c++) out.set(F32, o + 4L * c, (float) acc[i][c]);
            }
        });
        return new Tensor(name, DType.F32, new long[]{rows, cols}, out, "LoRA-merged " + name);
    }

    /** Output rows merged together: the LoRA's down rows are read once per block of rows. */
    private static final int BLOCK = 8;
    /** Columns per tile of the low-rank kernel: the block's accumulator tiles stay in L1. */
    private static final int TILE = 256;
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

    /**
     * A patch ready to merge: a low-rank delta with its factors widened to float64 once (up scaled by weight *
     * alpha/r), added by a tiled kernel; any other delta row by row.
     */
    private record Prepared(Patch patch, double[] up, double[] down, int r) {
        static Prepared of(Patch p) {
            if (!(p.delta() instanceof Delta.LowRank lr)) return new Prepared(p, null, null, 0);
            int r = lr.down().rows(), rows = lr.up().rows(), cols = lr.down().cols();
            double f = p.weight() * lr.scale();
            double[] up = new double[rows * r], down = new double[r * cols];
            for (int i = 0; i < up.length; i++) up[i] = f * lr.up().get(i);
            for (int i = 0; i < down.length; i++) down[i] = lr.down().get(i);
            return new Prepared(p, up, down, r);
        }

        /** Adds the patch to layer rows [layerRow, layerRow + n), accumulated in {@code acc}. */
        void add(int layerRow, int n, int layerRows, double[][] acc) {
            int[] local = new int[n];
            for (int i = 0; i < n; i++) local[i] = deltaRow(patch.target(), layerRow + i, layerRows);
            if (up == null) {
                for (int i = 0; i < n; i++) if (local[i] >= 0) patch.delta().addRow(local[i], patch.weight(), acc[i]);
                return;
            }
            int cols = down.length / r;
            for (int c0 = 0; c0 < cols; c0 += TILE) {
                int c1 = Math.min(cols, c0 + TILE);
                for (int k = 0; k < r; k++) {
                    int d = k * cols;
                    for (int i = 0; i < n; i++) {
                        if (local[i] < 0) continue;
                        double coef = up[local[i] * r + k];
                        if (coef != 0) axpy(coef, down, d, acc[i], c0, c1);
                    }
                }
            }
        }

        /** {@code y[c] += a * x[offset + c]} for c in [c0, c1). */
        private static void axpy(double a, double[] x, int offset, double[] y, int c0, int c1) {
            DoubleVector av = DoubleVector.broadcast(D, a);
            int c = c0;
            for (int end = c1 - D.length(); c <= end; c += D.length()) {
                DoubleVector.fromArray(D, x, offset + c).fma(av, DoubleVector.fromArray(D, y, c)).intoArray(y, c);
            }
            for (; c < c1; c++) y[c] += a * x[offset + c];
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
