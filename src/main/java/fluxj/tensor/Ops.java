package fluxj.tensor;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Element-wise and normalisation kernels on f32 activations laid out row-major. In-place unless stated.
 *
 * <p>Vectorised with the Vector API and spread over the cores for large inputs. Sums run in f32 vector lanes
 * (16 partial sums, then a reduction, which is more accurate than one running f32 sum); normalisations take
 * two passes (mean, then centred variance) like torch. Lane sums and exp are {@link VectorMath}'s (exp within
 * 2 ulp; GELU-tanh as x * sigmoid(2u), the same function as 0.5 x (1 + tanh u)), so every result is within f32
 * rounding of the scalar formula and the same whether the JIT has compiled the kernel or not.
 */
public final class Ops {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Floats matching the double lanes one for one (GELU-erf widens to double). */
    private static final VectorSpecies<Float> FD = VectorSpecies.of(float.class, VectorShape.forBitSize(D.vectorBitSize() / 2));
    /** Element-wise work below this size stays on the calling thread (forking costs more than it saves). */
    private static final int GRAIN = 1 << 15;
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2 / Math.PI);

    private Ops() {}

    /** LayerNorm over the last dim of x[rows, dim]; gamma/beta may be null (no affine). */
    public static void layerNorm(float[] x, int rows, int dim, float[] gamma, float[] beta, float eps, float[] out) {
        forRows(rows, dim, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int o = r * dim;
                float mean = (float) (sum(x, o, dim) / dim);
                float inv = (float) (1.0 / Math.sqrt(centredSquares(x, o, dim, mean) / dim + eps));
                normalise(x, o, dim, mean, inv, gamma, beta, out);
            }
        });
    }

    /** RMSNorm over the last dim: x * rsqrt(mean(x^2) + eps) * weight (weight may be null). */
    public static void rmsNorm(float[] x, int rows, int dim, float[] weight, float eps, float[] out) {
        forRows(rows, dim, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int o = r * dim;
                float inv = (float) (1.0 / Math.sqrt(centredSquares(x, o, dim, 0f) / dim + eps));
                normalise(x, o, dim, 0f, inv, weight, null, out);
            }
        });
    }

    /** GELU with the tanh approximation (torch approximate="tanh"). */
    public static void geluTanh(float[] x, int n) {
        forRange(n, (lo, hi) -> {
            int i = lo, up = lo + (hi - lo) / L * L;
            for (; i < up; i += L) {
                FloatVector v = FloatVector.fromArray(F, x, i);
                FloatVector inner = v.mul(v).mul(v).mul(0.044715f).add(v).mul(SQRT_2_OVER_PI);
                v.div(VectorMath.exp(inner.mul(-2f)).add(1f)).intoArray(x, i);
            }
            for (; i < hi; i++) {
                float v = x[i];
                x[i] = v / (1f + (float) Math.exp(-2f * SQRT_2_OVER_PI * (v + 0.044715f * v * v * v)));
            }
        });
    }

    /**
     * dst[r * dstCols + dstCol + i] = gelu_tanh(src[r * cols + i]) for src [rows, cols]: row by row (each row's tail
     * past the last full vector in scalar code), so it can write into its place in a concatenation, or in place.
     */
    public static void geluTanhRows(float[] src, int rows, int cols, float[] dst, int dstCols, int dstCol) {
        forRows(rows, cols, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int so = r * cols, d = r * dstCols + dstCol, i = 0;
                for (int up = F.loopBound(cols); i < up; i += L) {
                    FloatVector v = FloatVector.fromArray(F, src, so + i);
                    FloatVector inner = v.mul(v).mul(v).mul(0.044715f).add(v).mul(SQRT_2_OVER_PI);
                    v.div(VectorMath.exp(inner.mul(-2f)).add(1f)).intoArray(dst, d + i);
                }
                for (; i < cols; i++) {
                    float v = src[so + i];
                    dst[d + i] = v / (1f + (float) Math.exp(-2f * SQRT_2_OVER_PI * (v + 0.044715f * v * v * v)));
                }
            }
        });
    }

    /** Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), evaluated in double lanes. */
    public static void geluErf(float[] x, int n) {
        int dl = D.length();
        forRange(n, (lo, hi) -> {
            int i = lo, up = lo + (hi - lo) / dl * dl;
            for (; i < up; i += dl) {
                DoubleVector v = (DoubleVector) FloatVector.fromArray(FD, x, i).convertShape(VectorOperators.F2D, D, 0);
                DoubleVector g = v.mul(0.5).mul(erf(v.mul(1 / Math.sqrt(2))).add(1.0));
                ((FloatVector) g.convertShape(VectorOperators.D2F, FD, 0)).intoArray(x, i);
            }
            for (; i < hi; i++) x[i] = (float) (0.5 * x[i] * (1 + erf(x[i] / Math.sqrt(2))));
        });
    }

    /** CLIP's quick GELU, x * sigmoid(1.702 x). */
    public static void quickGelu(float[] x, int n) { sigmoidGate(x, n, 1.702f); }

    /** x * sigmoid(x). */
    public static void silu(float[] x, int n) { sigmoidGate(x, n, 1f); }

    public static void relu(float[] x, int n) {
        forRange(n, (lo, hi) -> {
            int i = lo, up = lo + (hi - lo) / L * L;
            for (; i < up; i += L) FloatVector.fromArray(F, x, i).max(0f).intoArray(x, i);
            for (; i < hi; i++) x[i] = Math.max(0f, x[i]);
        });
    }

    /** Softmax over the last dim of x[rows, cols], in place. */
    public static void softmax(float[] x, int rows, int cols) {
        forRows(rows, cols, (r0, r1) -> {
            for (int r = r0; r < r1; r++) softmaxRow(x, r * cols, cols);
        });
    }

    /** a[i] += b[i] for i < n. */
    public static void add(float[] a, float[] b, int n) {
        forRange(n, (lo, hi) -> {
            int i = lo, up = lo + (hi - lo) / L * L;
            for (; i < up; i += L) FloatVector.fromArray(F, a, i).add(FloatVector.fromArray(F, b, i)).intoArray(a, i);
            for (; i < hi; i++) a[i] += b[i];
        });
    }

    /** a[i] *= b[i] for i &lt; n (e.g. the gate of a gated feed-forward). */
    public static void mul(float[] a, float[] b, int n) {
        forRange(n, (lo, hi) -> {
            int i = lo, up = lo + (hi - lo) / L * L;
            for (; i < up; i += L) FloatVector.fromArray(F, a, i).mul(FloatVector.fromArray(F, b, i)).intoArray(a, i);
            for (; i < hi; i++) a[i] *= b[i];
        });
    }

    /** x[rows, cols] += v[cols] broadcast over rows. */
    public static void addRow(float[] x, int rows, int cols, float[] v) {
        forRows(rows, cols, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int o = r * cols, i = 0, up = cols - cols % L;
                for (; i < up; i += L) FloatVector.fromArray(F, x, o + i).add(FloatVector.fromArray(F, v, i)).intoArray(x, o + i);
                for (; i < cols; i++) x[o + i] += v[i];
            }
        });
    }

    /** x[rows, cols] *= v[cols] broadcast over rows. */
    public static void mulRow(float[] x, int rows, int cols, float[] v) {
        forRows(rows, cols, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int o = r * cols, i = 0, up = cols - cols % L;
                for (; i < up; i += L) FloatVector.fromArray(F, x, o + i).mul(FloatVector.fromArray(F, v, i)).intoArray(x, o + i);
                for (; i < cols; i++) x[o + i] *= v[i];
            }
        });
    }

    /** erf from the complementary error function's Chebyshev fit (Numerical Recipes erfcc): |error| < 1.2e-7. */
    public static double erf(double z) {
        double t = 1.0 / (1.0 + 0.5 * Math.abs(z));
        double ans = 1 - t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        return z >= 0 ? ans : -ans;
    }

    /** {@link #erf(double)} lane-wise, same formula. */
    private static DoubleVector erf(DoubleVector z) {
        DoubleVector t = DoubleVector.broadcast(D, 1.0).div(z.abs().mul(0.5).add(1.0));
        DoubleVector poly = t.mul(0.17087277).add(-0.82215223).mul(t).add(1.48851587).mul(t).add(-1.13520398).mul(t)
                .add(0.27886807).mul(t).add(-0.18628806).mul(t).add(0.09678418).mul(t).add(0.37409196).mul(t)
                .add(1.00002368).mul(t).add(-1.26551223);
        DoubleVector ans = t.mul(z.mul(z).neg().add(poly).lanewise(VectorOperators.EXP)).neg().add(1.0);
        return ans.blend(ans.neg(), z.compare(VectorOperators.LT, 0.0));
    }

    /** x * sigmoid(a x) = x / (1 + exp(-a x)). */
    private static void sigmoidGate(float[] x, int n, float a) {
        forRange(n, (lo, hi) -> {
            int i = lo, up = lo + (hi - lo) / L * L;
            for (; i < up; i += L) {
                FloatVector v = FloatVector.fromArray(F, x, i);
                v.div(VectorMath.exp(v.mul(-a)).add(1f)).intoArray(x, i);
            }
            for (; i < hi; i++) x[i] = x[i] / (1f + (float) Math.exp(-a * x[i]));
        });
    }

    private static void softmaxRow(float[] x, int o, int n) {
        int up = n - n % L, i = 0;
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (; i < up; i += L) mv = mv.max(FloatVector.fromArray(F, x, o + i));
        float max = mv.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) max = Math.max(max, x[o + i]);
        FloatVector sv = FloatVector.zero(F);
        for (i = 0; i < up; i += L) {
            FloatVector e = VectorMath.exp(FloatVector.fromArray(F, x, o + i).sub(max));
            e.intoArray(x, o + i);
            sv = sv.add(e);
        }
        double sum = VectorMath.sum(sv);
        for (; i < n; i++) { float e = (float) Math.exp(x[o + i] - max); x[o + i] = e; sum += e; }
        float inv = (float) (1 / sum);
        for (i = 0; i < up; i += L) FloatVector.fromArray(F, x, o + i).mul(inv).intoArray(x, o + i);
        for (; i < n; i++) x[o + i] *= inv;
    }

    private static double sum(float[] x, int o, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0, up = n - n % L;
        for (; i < up; i += L) acc = acc.add(FloatVector.fromArray(F, x, o + i));
        double s = VectorMath.sum(acc);
        for (; i < n; i++) s += x[o + i];
        return s;
    }

    /** Sum of (x - mean)^2 over x[o .. o+n). */
    private static double centredSquares(float[] x, int o, int n, float mean) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0, up = n - n % L;
        for (; i < up; i += L) {
            FloatVector d = FloatVector.fromArray(F, x, o + i).sub(mean);
            acc = d.fma(d, acc);
        }
        double s = VectorMath.sum(acc);
        for (; i < n; i++) { double d = x[o + i] - mean; s += d * d; }
        return s;
    }

    /** out = (x - mean) * inv * gamma + beta over one row (gamma/beta indexed from 0, may be null). */
    private static void normalise(float[] x, int o, int n, float mean, float inv, float[] gamma, float[] beta, float[] out) {
        int i = 0, up = n - n % L;
        for (; i < up; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, o + i).sub(mean).mul(inv);
            if (gamma != null) v = v.mul(FloatVector.fromArray(F, gamma, i));
            if (beta != null) v = v.add(FloatVector.fromArray(F, beta, i));
            v.intoArray(out, o + i);
        }
        for (; i < n; i++) {
            float v = (x[o + i] - mean) * inv;
            if (gamma != null) v *= gamma[i];
            if (beta != null) v += beta[i];
            out[o + i] = v;
        }
    }

    /** A range body over [lo, hi). */
    private interface Range { void run(int lo, int hi); }

    /** body over [0, n) in chunks of at least GRAIN elements (multiples of the vector length), spread over the cores. */
    private static void forRange(int n, Range body) {
        int chunks = Math.max(1, Math.min(Parallel.threads() * 4, n / GRAIN));
        if (chunks == 1) { body.run(0, n); return; }
        int step = (n / chunks + L - 1) / L * L;
        Parallel.forEach((n + step - 1) / step, c -> body.run(c * step, Math.min(n, (c + 1) * step)));
    }

    /** body over row ranges of x[rows, cols], a few chunks per core when the rows hold enough work. */
    private static void forRows(int rows, int cols, Range body) {
        int chunks = (int) Math.max(1, Math.min(Math.min(rows, Parallel.threads() * 4L), (long) rows * cols / GRAIN));
        if (chunks == 1) { body.run(0, rows); return; }
        Parallel.forEach(chunks, c -> body.run((int) ((long) c * rows / chunks), (int) ((long) (c + 1) * rows / chunks)));
    }
}
