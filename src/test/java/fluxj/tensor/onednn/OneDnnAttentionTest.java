package fluxj.tensor.onednn;

import fluxj.tensor.Attention;
import fluxj.tensor.DType;
import fluxj.testing.OneDnn;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * bf16 attention through oneDNN against (a) a double-precision reference of what it should compute (q, k, v
 * rounded to bf16, softmax exact, probabilities rounded to bf16) and (b) the f32 flash attention. Odd sizes, several
 * heads, and query blocks forced small so the blocked path runs.
 */
class OneDnnAttentionTest {
    @BeforeEach
    void needsOneDnn() {
        OneDnn.require("oneDNN path");
    }

    @Test
    void oneBlockOfQueries() {
        check(37, 53, 3, 24, Long.MAX_VALUE);
    }

    @Test
    void queriesInSeveralBlocks() {
        // 4 KB of scores per block: 9 rows of 53 keys for each of the 2 heads, so 41 queries take 5 blocks (the last one shorter).
        check(41, 53, 2, 16, 4096);
    }

    @Test
    void fluxHeadSizeSelfAttention() {
        check(64, 64, 2, 128, Long.MAX_VALUE);
        System.out.println("oneDNN attention implementations: " + OneDnnAttention.implementations());
    }

    // The memory plan counts what attention leaves behind: started from nothing held, exactly these buffers.
    @Test
    void buffersHeldAreWhatThePlanCounts() {
        NativeBuffer.releaseAll();
        int lq = 41, lk = 53, heads = 2, d = 16, width = heads * d;
        float[] q = new float[lq * width], k = new float[lk * width], v = new float[lk * width], out = new float[lq * width];
        OneDnnAttention.attention(q, k, v, lq, lk, heads, d, 0.25f, out);
        assertEquals(OneDnnAttention.bufferBytes(lq, lk, heads, d), NativeBuffer.heldBytes());
    }

    private static void check(int lq, int lk, int heads, int d, long maxScoresBytes) {
        Random rnd = new Random(lq * 31L + lk);
        int width = heads * d;
        float[] q = gaussian(rnd, lq * width, 1.5), k = gaussian(rnd, lk * width, 1.5), v = gaussian(rnd, lk * width, 1);
        float scale = (float) (1 / Math.sqrt(d));
        float[] got = new float[lq * width], f32 = new float[lq * width];
        OneDnnAttention.attention(q, k, v, lq, lk, heads, d, scale, got, maxScoresBytes);
        Attention.attention(q, k, v, lq, lk, heads, d, scale, null, false, f32);
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < lq; i++) {
                double[] s = new double[lk];
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < lk; j++) {
                    for (int c = 0; c < d; c++) s[j] += bf16(q[i * width + h * d + c]) * bf16(k[j * width + h * d + c]);
                    max = Math.max(max, s[j]);
                }
                for (int j = 0; j < lk; j++) sum += s[j] = Math.exp((s[j] - max) * scale);
                for (int c = 0; c < d; c++) {
                    double o = 0, absSum = 0, sq = 0;
                    for (int j = 0; j < lk; j++) {
                        double pv = bf16((float) (s[j] / sum)) * bf16(v[j * width + h * d + c]);
                        o += pv;
                        absSum += Math.abs(pv);
                        sq += pv * pv;
                    }
                    float y = got[i * width + h * d + c];
                    // (a) The scores' f32 sums and the f32 exp move a probability by a few 2^-24 relative before it is
                    // rounded, which can flip its bf16 rounding (one bf16 step, 2^-8 relative) in rare ties; the
                    // output's f32 sum adds lk * 2^-24 of the absolute sum. 2^-8 of the absolute sum bounds both.
                    assertEquals(o, y, 0x1p-8 * absSum + 1e-6, "head " + h + " out[" + i + "," + c + "] against the bf16 reference");
                    // (b) Against f32: q, k rounded to bf16 move a score by ~2^-8 of its magnitude (|s| < ~30 here,
                    // times scale), the probabilities and v by 2^-8 relative each; 0.05 + 2^-6 of the absolute sum
                    // bounds that with margin while a wrong head, scale or layout is off by O(1).
                    assertEquals(f32[i * width + h * d + c], y, 0.05 + 0x1p-6 * absSum, "head " + h + " out[" + i + "," + c + "] against f32 attention");
                }
            }
        }
    }

    private static double bf16(float x) {
        return DType.bf16ToFloat(DType.floatToBf16(x));
    }

    private static float[] gaussian(Random rnd, int n, double sd) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextGaussian() * sd);
        return a;
    }
}
