package fluxj.tensor;

/**
 * Multi-head attention {@code softmax(scale * Q K^T + bias) V} with q[Lq, H*D], k/v[Lk, H*D], out[Lq, H*D]
 * (token-major, heads side by side, as the linear layers produce them). Rows are processed with an online
 * softmax, so the Lq x Lk matrix is never materialised.
 */
public final class Attention {
    private Attention() {}

    /**
     * @param bias   optional additive bias [H, Lq, Lk] (T5's relative position bias), or null
     * @param causal mask keys after the query position (CLIP)
     */
    public static void attention(float[] q, float[] k, float[] v, int lq, int lk, int heads, int headDim,
                                 float scale, float[] bias, boolean causal, float[] out) {
        int width = heads * headDim;
        Parallel.forEach(heads * ((lq + 15) / 16), task -> {
            int h = task % heads, q0 = (task / heads) * 16, q1 = Math.min(lq, q0 + 16);
            float[] acc = new float[headDim];
            for (int i = q0; i < q1; i++) {
                java.util.Arrays.fill(acc, 0f);
                float max = Float.NEGATIVE_INFINITY, sum = 0f;
                int qo = i * width + h * headDim;
                int end = causal ? Math.min(lk, i + 1) : lk;
                for (int j = 0; j < end; j++) {
                    int ko = j * width + h * headDim;
                    float s = dot(q, qo, k, ko, headDim) * scale;
                    if (bias != null) s += bias[(h * lq + i) * lk + j];
                    if (s > max) {
                        float corr = (float) Math.exp(max - s);
                        sum *= corr;
                        for (int d = 0; d < headDim; d++) acc[d] *= corr;
                        max = s;
                    }
                    float p = (float) Math.exp(s - max);
                    sum += p;
                    for (int d = 0; d < headDim; d++) acc[d] += p * v[ko + d];
                }
                for (int d = 0; d < headDim; d++) out[qo + d] = acc[d] / sum;
            }
        });
    }

    static float dot(float[] a, int ao, float[] b, int bo, int k) {
        float s = 0;
        for (int i = 0; i < k; i++) s += a[ao + i] * b[bo + i];
        return s;
    }
}
