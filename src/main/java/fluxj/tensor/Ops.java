package fluxj.tensor;

/**
 * Element-wise and normalisation kernels on f32 activations laid out row-major. In-place unless stated.
 * Reductions accumulate in double where the reference's f32 sum is itself rounding-sensitive only in the
 * last bits; all results are within f32 rounding of the reference.
 */
public final class Ops {
    private Ops() {}

    /** LayerNorm over the last dim of x[rows, dim]; gamma/beta may be null (no affine). */
    public static void layerNorm(float[] x, int rows, int dim, float[] gamma, float[] beta, float eps, float[] out) {
        Parallel.forEach(chunks(rows), c -> {
            for (int r = chunkStart(c, rows); r < chunkStart(c + 1, rows); r++) {
                int o = r * dim;
                double mean = 0;
                for (int i = 0; i < dim; i++) mean += x[o + i];
                mean /= dim;
                double var = 0;
                for (int i = 0; i < dim; i++) { double d = x[o + i] - mean; var += d * d; }
                var /= dim;
                float inv = (float) (1.0 / Math.sqrt(var + eps));
                float mf = (float) mean;
                for (int i = 0; i < dim; i++) {
                    float v = (x[o + i] - mf) * inv;
                    if (gamma != null) v *= gamma[i];
                    if (beta != null) v += beta[i];
                    out[o + i] = v;
                }
            }
        });
    }

    /** RMSNorm over the last dim: x * rsqrt(mean(x^2) + eps) * weight. */
    public static void rmsNorm(float[] x, int rows, int dim, float[] weight, float eps, float[] out) {
        Parallel.forEach(chunks(rows), c -> {
            for (int r = chunkStart(c, rows); r < chunkStart(c + 1, rows); r++) {
                int o = r * dim;
                double ss = 0;
                for (int i = 0; i < dim; i++) ss += (double) x[o + i] * x[o + i];
                float inv = (float) (1.0 / Math.sqrt(ss / dim + eps));
                for (int i = 0; i < dim; i++) out[o + i] = x[o + i] * inv * (weight == null ? 1f : weight[i]);
            }
        });
    }

    /** GroupNorm on x[C, HW] (NCHW, batch 1) with per-channel affine. */
    public static void groupNorm(float[] x, int channels, int hw, int groups, float[] gamma, float[] beta, float eps, float[] out) {
        int cpg = channels / groups;
        Parallel.forEach(groups, g -> {
            int o = g * cpg * hw, n = cpg * hw;
            double mean = 0;
            for (int i = 0; i < n; i++) mean += x[o + i];
            mean /= n;
            double var = 0;
            for (int i = 0; i < n; i++) { double d = x[o + i] - mean; var += d * d; }
            var /= n;
            float inv = (float) (1.0 / Math.sqrt(var + eps));
            float mf = (float) mean;
            for (int c = g * cpg; c < (g + 1) * cpg; c++) {
                float a = gamma == null ? 1f : gamma[c], b = beta == null ? 0f : beta[c];
                for (int i = c * hw; i < (c + 1) * hw; i++) out[i] = (x[i] - mf) * inv * a + b;
            }
        });
    }

    /** GELU with the tanh approximation (torch approximate="tanh"). */
    public static void geluTanh(float[] x, int n) {
        final float c = (float) Math.sqrt(2 / Math.PI);
        for (int i = 0; i < n; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1f + (float) Math.tanh(c * (v + 0.044715f * v * v * v)));
        }
    }

    /** Exact GELU, 0.5 x (1 + erf(x / sqrt 2)). */
    public static void geluErf(float[] x, int n) {
        for (int i = 0; i < n; i++) x[i] = (float) (0.5 * x[i] * (1 + erf(x[i] / Math.sqrt(2))));
    }

    /** CLIP's quick GELU, x * sigmoid(1.702 x). */
    public static void quickGelu(float[] x, int n) {
        for (int i = 0; i < n; i++) x[i] = x[i] / (1f + (float) Math.exp(-1.702f * x[i]));
    }

    public static void silu(float[] x, int n) {
        for (int i = 0; i < n; i++) x[i] = x[i] / (1f + (float) Math.exp(-x[i]));
    }

    public static void relu(float[] x, int n) {
        for (int i = 0; i < n; i++) x[i] = Math.max(0f, x[i]);
    }

    /** Softmax over the last dim of x[rows, cols], in place. */
    public static void softmax(float[] x, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            int o = r * cols;
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < cols; i++) max = Math.max(max, x[o + i]);
            double sum = 0;
            for (int i = 0; i < cols; i++) { float e = (float) Math.exp(x[o + i] - max); x[o + i] = e; sum += e; }
            float inv = (float) (1 / sum);
            for (int i = 0; i < cols; i++) x[o + i] *= inv;
        }
    }

    /** a[i] += b[i] for i < n. */
    public static void add(float[] a, float[] b, int n) {
        for (int i = 0; i < n; i++) a[i] += b[i];
    }

    /** x[rows, cols] += v[cols] broadcast over rows. */
    public static void addRow(float[] x, int rows, int cols, float[] v) {
        for (int r = 0; r < rows; r++) for (int i = 0; i < cols; i++) x[r * cols + i] += v[i];
    }

    /** x[rows, cols] *= v[cols] broadcast over rows. */
    public static void mulRow(float[] x, int rows, int cols, float[] v) {
        for (int r = 0; r < rows; r++) for (int i = 0; i < cols; i++) x[r * cols + i] *= v[i];
    }

    /** Abramowitz-Stegun-free erf: via the complementary error function with double precision (|err| < 1.2e-7). */
    public static double erf(double z) {
        double t = 1.0 / (1.0 + 0.5 * Math.abs(z));
        double ans = 1 - t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        return z >= 0 ? ans : -ans;
    }

    private static int chunks(int rows) { return Math.min(rows, Parallel.threads() * 4); }

    private static int chunkStart(int c, int rows) { return (int) ((long) c * rows / chunks(rows)); }
}
