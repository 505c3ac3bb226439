package fluxj.tensor;

import fluxj.tensor.onednn.OneDnnAttention;
import fluxj.tensor.onednn.OneDnnMatmul;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Multi-head attention {@code softmax(scale * Q K^T + bias) V} with q[Lq, H*D], k/v[Lk, H*D], out[Lq, H*D]
 * (token-major, heads side by side, as the linear layers produce them).
 *
 * <p>Flash-attention style: each task takes one head and a block of {@value #BQ} queries, walks the keys in
 * blocks of {@value #BK}, computes the score block and the P V update with the matmul microkernel and keeps an
 * online softmax (running max and sum per query), so the Lq x Lk matrix is never materialised. K and V are first
 * packed per head into the microkernel's panel layout (K transposed), once per call.
 *
 * <p>Under {@code --matmul onednn} attention without bias or mask runs in bf16 through oneDNN instead
 * ({@link OneDnnAttention}), as PyTorch's bf16 path does.
 */
public final class Attention {
    private static final VectorSpecies<Float> F = VectorMatmul.F;
    private static final int L = VectorMatmul.L, MR = VectorMatmul.MR, NR = VectorMatmul.NR;
    static final int BQ = 8 * MR, BK = 4 * NR;

    private Attention() {}

    /**
     * Bytes outside the Java heap kept after attention without bias or mask of lq queries over lk keys (oneDNN's
     * buffers when the products run on oneDNN; none for the Java kernel, whose panels live on the heap per call).
     */
    public static long bufferBytes(int lq, int lk, int heads, int headDim) {
        return oneDnn() ? OneDnnAttention.bufferBytes(lq, lk, heads, headDim) : 0;
    }

    /**
     * Whether attention runs on oneDNN's bf16 kernels: when the products in scope do ({@link Matmul#kernel()}), so
     * a caller that keeps its products in f32 keeps its attention in f32 too.
     */
    private static boolean oneDnn() {
        return Matmul.kernel() instanceof OneDnnMatmul;
    }

    /**
     * @param bias   optional additive bias [H, Lq, Lk] (T5's relative position bias), or null
     * @param causal mask keys after the query position (CLIP)
     */
    public static void attention(float[] q, float[] k, float[] v, int lq, int lk, int heads, int headDim,
                                 float scale, float[] bias, boolean causal, float[] out) {
        int width = heads * headDim;
        if (q.length < (long) lq * width || k.length < (long) lk * width || v.length < (long) lk * width
                || out.length < (long) lq * width) {
            throw new IllegalArgumentException("attention: q/k/v/out arrays smaller than [L, heads * headDim]");
        }
        if (bias != null && bias.length < (long) heads * lq * lk) {
            throw new IllegalArgumentException("attention: bias has " + bias.length + " values, needs heads * Lq * Lk");
        }
        if (lq == 0) return;
        if (lk == 0) throw new IllegalArgumentException("attention: no keys");
        if (bias == null && !causal && oneDnn()) {
            OneDnnAttention.attention(q, k, v, lq, lk, heads, headDim, scale, out);
            return;
        }
        int kPanels = (lk + NR - 1) / NR, dPanels = (headDim + NR - 1) / NR;
        float[][] kp = new float[heads][], vp = new float[heads][];
        Parallel.forEach(heads, h -> {
            kp[h] = packKeys(k, lk, width, h * headDim, headDim, kPanels);
            vp[h] = packValues(v, lk, width, h * headDim, headDim, dPanels);
        });
        int qBlocks = (lq + BQ - 1) / BQ;
        Parallel.forEach(heads * qBlocks, task -> {
            int h = task % heads, q0 = (task / heads) * BQ;
            block(q, kp[h], vp[h], lq, lk, width, h, headDim, dPanels, q0, Math.min(lq, q0 + BQ), scale, bias, causal, out);
        });
    }

    /** K of one head as panels of NR keys, each [D][NR] (keys past Lk are zero). */
    private static float[] packKeys(float[] k, int lk, int width, int off, int d, int panels) {
        float[] p = new float[panels * d * NR];
        for (int j = 0; j < lk; j++) {
            int base = (j / NR) * d * NR + j % NR, src = j * width + off;
            for (int c = 0; c < d; c++) p[base + c * NR] = k[src + c];
        }
        return p;
    }

    /** V of one head as panels of NR head dims, each [Lk][NR] (dims past D are zero). */
    private static float[] packValues(float[] v, int lk, int width, int off, int d, int panels) {
        float[] p = new float[panels * lk * NR];
        for (int dp = 0; dp < panels; dp++) {
            int cols = Math.min(NR, d - dp * NR);
            for (int j = 0; j < lk; j++) System.arraycopy(v, j * width + off + dp * NR, p, (dp * lk + j) * NR, cols);
        }
        return p;
    }

    private static void block(float[] q, float[] kp, float[] vp, int lq, int lk, int width, int h, int d, int dPanels,
                              int q0, int q1, float scale, float[] bias, boolean causal, float[] out) {
        int rows = (q1 - q0 + MR - 1) / MR * MR, dp = dPanels * NR;
        float[] qb = new float[rows * d];
        for (int i = q0; i < q1; i++) System.arraycopy(q, i * width + h * d, qb, (i - q0) * d, d);
        float[] s = new float[rows * BK], o = new float[rows * dp], max = new float[rows], sum = new float[rows];
        Arrays.fill(max, Float.NEGATIVE_INFINITY);
        int kEnd = causal ? Math.min(lk, q1) : lk;
        for (int j0 = 0; j0 < kEnd; j0 += BK) {
            int nk = Math.min(BK, kEnd - j0), panels = (nk + NR - 1) / NR;
            for (int r = 0; r < rows; r += MR) {
                for (int p = 0; p < panels; p++) {
                    VectorMatmul.kernel(qb, r * d, d, kp, (j0 / NR + p) * d * NR, d, s, r * BK + p * NR, BK, false, null, 0);
                }
            }
            for (int i = q0; i < q1; i++) {
                int valid = causal ? Math.max(0, Math.min(nk, i - j0 + 1)) : nk;
                int bo = bias == null ? -1 : (h * lq + i) * lk + j0;
                softmaxStep(s, (i - q0) * BK, nk, valid, scale, bias, bo, max, sum, i - q0, o, (i - q0) * dp, dp);
            }
            for (int r = 0; r < rows; r += MR) {
                for (int p = 0; p < dPanels; p++) {
                    VectorMatmul.kernel(s, r * BK, BK, vp, (p * lk + j0) * NR, nk, o, r * dp + p * NR, dp, true, null, 0);
                }
            }
        }
        for (int i = q0; i < q1; i++) {
            float inv = 1f / sum[i - q0];
            int src = (i - q0) * dp, dst = i * width + h * d;
            for (int c = 0; c < d; c++) out[dst + c] = o[src + c] * inv;
        }
    }

    /**
     * Turns scores s[so .. so+nk) into probabilities against the running max of row {@code r} (keys at and past
     * {@code valid} are masked to 0), rescaling that row's sum and output accumulator when the max grows.
     */
    private static void softmaxStep(float[] s, int so, int nk, int valid, float scale, float[] bias, int bo,
                                    float[] max, float[] sum, int r, float[] o, int oo, int dp) {
        int up = (valid + L - 1) / L * L;
        FloatVector mx = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (int c = 0; c < up; c += L) {
            VectorMask<Float> in = F.indexInRange(c, valid);
            FloatVector x = FloatVector.fromArray(F, s, so + c).mul(scale);
            if (bias != null) x = x.add(FloatVector.fromArray(F, bias, bo + c, in));
            x = x.blend(Float.NEGATIVE_INFINITY, in.not());
            x.intoArray(s, so + c);
            mx = mx.max(x);
        }
        float old = max[r], m = Math.max(old, mx.reduceLanes(VectorOperators.MAX));
        // A row with every key so far masked keeps max -inf; its probabilities are 0, not exp(-inf - -inf).
        float base = m == Float.NEGATIVE_INFINITY ? 0f : m;
        FloatVector acc = FloatVector.zero(F);
        for (int c = 0; c < up; c += L) {
            FloatVector p = VectorMath.exp(FloatVector.fromArray(F, s, so + c).sub(base));
            p.intoArray(s, so + c);
            acc = acc.add(p);
        }
        for (int c = up; c < nk; c++) s[so + c] = 0f;
        float corr = (float) Math.exp(old - base);
        sum[r] = sum[r] * corr + VectorMath.sum(acc);
        max[r] = m;
        if (corr != 1f) {
            for (int c = 0; c < dp; c += L) FloatVector.fromArray(F, o, oo + c).mul(corr).intoArray(o, oo + c);
        }
    }
}
