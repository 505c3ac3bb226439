package fluxj.flux;

import fluxj.tensor.Attention;
import fluxj.tensor.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Element-wise kernels the FLUX blocks need beyond {@link fluxj.tensor.Ops}: ones that read or write at row
 * offsets and strides (so the blocks need no extra copies), parallel over rows.
 */
final class FluxKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private FluxKernels() {}

    /** x[rows, cols] += gate[cols] * y[rows, cols] (torch order: the product rounded, then the sum). */
    static void addGated(float[] x, float[] y, float[] gate, int rows, int cols) {
        forRows(rows, r -> {
            int o = r * cols, i = 0;
            for (int up = S.loopBound(cols); i < up; i += S.length()) {
                FloatVector g = FloatVector.fromArray(S, gate, i);
                FloatVector p = g.mul(FloatVector.fromArray(S, y, o + i));
                p.add(FloatVector.fromArray(S, x, o + i)).intoArray(x, o + i);
            }
            for (; i < cols; i++) x[o + i] += gate[i] * y[o + i];
        });
    }

    /** dst[(dstRow + r) * dstCols + dstCol ..][cols] = src[(srcRow + r) * cols ..][cols] for r < rows. */
    static void copyRows(float[] src, int srcRow, int rows, int cols, float[] dst, int dstRow, int dstCols, int dstCol) {
        forRows(rows, r -> System.arraycopy(src, (srcRow + r) * cols, dst, (dstRow + r) * dstCols + dstCol, cols));
    }

    /**
     * Rotates the (even, odd) pairs of every head of x[rows, heads * 2 * pairs] by the per-row angles given as
     * cos/sin [rows, pairs]: (a, b) -> (cos a - sin b, sin a + cos b), as BFL's apply_rope.
     */
    static void rope(float[] x, int rows, int heads, int pairs, float[] cos, float[] sin) {
        int width = heads * 2 * pairs;
        forRows(rows, r -> {
            int t = r * pairs;
            for (int h = 0; h < heads; h++) {
                int o = r * width + h * 2 * pairs;
                for (int p = 0; p < pairs; p++) {
                    float a = x[o + 2 * p], b = x[o + 2 * p + 1], c = cos[t + p], s = sin[t + p];
                    x[o + 2 * p] = c * a + -s * b;
                    x[o + 2 * p + 1] = s * a + c * b;
                }
            }
        });
    }

    private static void forRows(int rows, java.util.function.IntConsumer body) {
        int chunks = Math.min(rows, Parallel.threads() * 8);
        Parallel.forEach(chunks, c -> {
            int r1 = (int) ((long) (c + 1) * rows / chunks);
            for (int r = (int) ((long) c * rows / chunks); r < r1; r++) body.accept(r);
        });
    }

    /**
     * The reference's {@code math.attention}: rotary positions on q and k, then scaled dot-product attention of the
     * workspace's q, k, v [len, hidden] into its attn.
     */
    static void attention(Workspace ws, int len, int hidden, int heads, Rope.Angles pe) {
        Rope.apply(ws.q(), len, heads, pe);
        Rope.apply(ws.k(), len, heads, pe);
        int headDim = hidden / heads;
        Attention.attention(ws.q(), ws.k(), ws.v(), len, len, heads, headDim, (float) (1 / Math.sqrt(headDim)), null, false, ws.attn());
    }
}
