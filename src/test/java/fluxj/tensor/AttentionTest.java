package fluxj.tensor;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

class AttentionTest {
    /** Naive attention in double: full score matrix per head, plain softmax. */
    private static double[] reference(float[] q, float[] k, float[] v, int lq, int lk, int heads, int d, float scale,
                                      float[] bias, boolean causal) {
        int width = heads * d;
        double[] out = new double[lq * width];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < lq; i++) {
                double[] s = new double[lk];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < lk; j++) {
                    if (causal && j > i) { s[j] = Double.NEGATIVE_INFINITY; continue; }
                    double dot = 0;
                    for (int c = 0; c < d; c++) dot += (double) q[i * width + h * d + c] * k[j * width + h * d + c];
                    s[j] = dot * scale + (bias == null ? 0 : bias[(h * lq + i) * lk + j]);
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < lk; j++) { s[j] = Math.exp(s[j] - max); sum += s[j]; }
                for (int c = 0; c < d; c++) {
                    double acc = 0;
                    for (int j = 0; j < lk; j++) acc += s[j] * v[j * width + h * d + c];
                    out[i * width + h * d + c] = acc / sum;
                }
            }
        }
        return out;
    }

    /**
     * Inputs are U(-1, 1), so scores are O(1): f32 scores err by ~D * eps, the vector exp by ~1 ulp, and each output
     * (a convex combination of values in [-1, 1]) by a few 1e-7. 2e-5 absolute leaves a wide margin yet catches any
     * indexing, masking or rescaling mistake (those are O(0.1)).
     */
    private static void check(int lq, int lk, int heads, int d, boolean withBias, boolean causal, long seed) {
        Random rnd = new Random(seed);
        int width = heads * d;
        float[] q = Weights.randomFloats(lq * width, rnd), k = Weights.randomFloats(lk * width, rnd);
        float[] v = Weights.randomFloats(lk * width, rnd);
        float[] bias = withBias ? Weights.randomFloats(heads * lq * lk, rnd) : null;
        float scale = (float) (1 / Math.sqrt(d)) * 3;
        float[] out = new float[lq * width];
        Attention.attention(q, k, v, lq, lk, heads, d, scale, bias, causal, out);
        double[] ref = reference(q, k, v, lq, lk, heads, d, scale, bias, causal);
        double worst = 0;
        for (int i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - ref[i]));
        double w = worst;
        assertTrue(worst < 2e-5, () -> String.format("lq=%d lk=%d heads=%d d=%d bias=%b causal=%b: max error %.3g",
                lq, lk, heads, d, withBias, causal, w));
    }

    @Test
    void smallOddShapes() {
        check(1, 1, 1, 1, false, false, 1);
        check(13, 70, 3, 20, false, false, 2);
        check(7, 5, 2, 64, true, false, 3);
        check(77, 77, 2, 24, false, true, 4);
    }

    @Test
    void severalQueryAndKeyBlocks() {
        // More than one query block (48) and key block (256), so the online rescaling and tails are exercised.
        check(61, 300, 2, 40, false, false, 5);
        check(100, 300, 1, 128, true, false, 6);
        check(300, 300, 1, 17, false, true, 7);
        check(50, 531, 2, 70, true, true, 8);
    }
}
