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

    /** Output rows merged together (one task of the parallel loop). */
    private static final int BLOCK = 8;
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

    /**
     * A patch ready to merge: a low-rank delta with its factors widened to float64 once (up scaled by weight *
     * alpha/r), added by a register-blocked kernel; any other delta row by row.
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
            boolean any = false;
            for (int i = 0; i < n; i++) {
                local[i] = deltaRow(patch.target(), layerRow + i, layerRows);
                any |= local[i] >= 0;
            }
            if (!any) return;
            if (up == null) {
                for (int i = 0; i < n; i++) if (local[i] >= 0) patch.delta().addRow(local[i], patch.weight(), acc[i]);
                return;
            }
            // Four output rows at a time, their sums held in registers across the rank: each vector of a down row
            // is loaded once for four FMAs (rows this patch does not cover get zero coefficients).
            int cols = down.length / r, lanes = D.length(), vecEnd = cols - cols % lanes;
            double[] coef = new double[4 * r];
            for (int i0 = 0; i0 < n; i0 += 4) {
                java.util.Arrays.fill(coef, 0);
                for (int i = 0; i < 4 && i0 + i < n; i++) {
                    if (local[i0 + i] >= 0) System.arraycopy(up, local[i0 + i] * r, coef, i * r, r);
                }
                double[] y0 = acc[i0], y1 = i0 + 1 < n ? acc[i0 + 1] : new double[cols];
                double[] y2 = i0 + 2 < n ? acc[i0 + 2] : new double[cols], y3 = i0 + 3 < n ? acc[i0 + 3] : new double[cols];
                for (int c = 0; c < vecEnd; c += lanes) {
                    DoubleVector a0 = DoubleVector.fromArray(D, y0, c), a1 = DoubleVector.fromArray(D, y1, c);
                    DoubleVector a2 = DoubleVector.fromArray(D, y2, c), a3 = DoubleVector.fromArray(D, y3, c);
                    for (int k = 0; k < r; k++) {
                        DoubleVector d = DoubleVector.fromArray(D, down, k * cols + c);
                        a0 = d.fma(DoubleVector.broadcast(D, coef[k]), a0);
                        a1 = d.fma(DoubleVector.broadcast(D, coef[r + k]), a1);
                        a2 = d.fma(DoubleVector.broadcast(D, coef[2 * r + k]), a2);
                        a3 = d.fma(DoubleVector.broadcast(D, coef[3 * r + k]), a3);
                    }
                    a0.intoArray(y0, c);
                    a1.intoArray(y1, c);
                    a2.intoArray(y2, c);
                    a3.intoArray(y3, c);
                }
                for (int c = vecEnd; c < cols; c++) {
                    for (int k = 0; k < r; k++) {
                        double d = down[k * cols + c];
                        y0[c] += coef[k] * d;
                        y1[c] += coef[r + k] * d;
                        y2[c] += coef[2 * r + k] * d;
                        y3[c] += coef[3 * r + k] * d;
                    }
                }
            }
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
