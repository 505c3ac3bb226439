package fluxj.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Kernels on channels-last images (batch 1, [pixels, C]: each pixel's channels contiguous), the layout the
 * convolutions of {@link Conv2d} take and produce, and the conversions from and to channel planes [C, pixels].
 */
public final class ChannelsLast {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /**
     * Pixel ranges the statistics are summed over, a fixed count so that the partial sums, and the result, do not
     * depend on the number of threads.
     */
    private static final int CHUNKS = 64;
    /** Pixels summed per channel in f32 before the run is added to a double total. */
    private static final int RUN = 256;

    private ChannelsLast() {}

    /** a [rows, cols] -> [cols, rows]; [C, pixels] planes to channels-last and back. */
    public static float[] transpose(float[] a, int rows, int cols) {
        if (a.length < (long) rows * cols) throw new IllegalArgumentException("transpose: array holds " + a.length + " values, not " + rows + "x" + cols);
        float[] t = new float[Math.multiplyExact(rows, cols)];
        int chunks = Math.min(Math.max(rows, cols), Parallel.threads() * 4);
        boolean byCol = cols >= rows;
        Parallel.forEach(chunks, ch -> {
            int n = byCol ? cols : rows, lo = (int) ((long) ch * n / chunks), hi = (int) ((long) (ch + 1) * n / chunks);
            if (byCol) {
                for (int j = lo; j < hi; j++) for (int i = 0; i < rows; i++) t[j * rows + i] = a[i * cols + j];
            } else {
                for (int i = lo; i < hi; i++) for (int j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
            }
        });
        return t;
    }

    /**
     * GroupNorm of x [pixels, C] into out (which may be x): channels in {@code groups} consecutive groups, each
     * normalised by its mean and variance over all its channels and pixels (two passes, like torch), then
     * per-channel affine (gamma/beta may be null) and, with {@code silu}, x * sigmoid(x) in the same pass.
     */
    public static void groupNorm(float[] x, int pixels, int channels, int groups, float[] gamma, float[] beta, float eps,
                                 boolean silu, float[] out) {
        if (out.length < (long) pixels * channels) throw new IllegalArgumentException("groupNorm: array too small");
        normalize(x, 0, pixels, groupNormAffine(x, pixels, channels, groups, gamma, beta, eps), silu, out, 0);
    }

    /**
     * GroupNorm as a per-channel map {@code y = (x - mean[c]) * scale[c] + shift[c]}, from the statistics of a
     * whole image: what {@link #groupNorm} applies, so that parts of the image normalised apart with it
     * ({@link #normalize}) give the whole image's values bit for bit.
     */
    public record Affine(float[] mean, float[] scale, float[] shift) {
        public int channels() { return mean.length; }
    }

    /** The {@link Affine} map GroupNorm applies to x [pixels, C] (statistics over all of x). */
    public static Affine groupNormAffine(float[] x, int pixels, int channels, int groups, float[] gamma, float[] beta, float eps) {
        if (channels % groups != 0) throw new IllegalArgumentException("groupNorm: " + channels + " channels in " + groups + " groups");
        if (x.length < (long) pixels * channels) throw new IllegalArgumentException("groupNorm: array too small");
        int cpg = channels / groups, chunks = Math.max(1, Math.min(pixels, CHUNKS));
        double count = (double) cpg * pixels;
        float[] mean = new float[channels], a = new float[channels], b = new float[channels];
        double[] sums = groupSums(x, pixels, channels, cpg, chunks, null);
        for (int c = 0; c < channels; c++) mean[c] = (float) (sums[c / cpg] / count);
        double[] squares = groupSums(x, pixels, channels, cpg, chunks, mean);
        for (int c = 0; c < channels; c++) {
            float inv = (float) (1.0 / Math.sqrt(squares[c / cpg] / count + eps));
            a[c] = gamma == null ? inv : gamma[c] * inv;
            b[c] = beta == null ? 0f : beta[c];
        }
        return new Affine(mean, a, b);
    }

    /**
     * Pixels [from, from + pixels) of x [*, C] mapped by {@code f} (then SiLU with {@code silu}) into out [*, C] from
     * its pixel {@code to}; out may be x when {@code from} is {@code to}.
     */
    public static void normalize(float[] x, int from, int pixels, Affine f, boolean silu, float[] out, int to) {
        int channels = f.channels();
        if (from < 0 || to < 0 || x.length < ((long) from + pixels) * channels || out.length < ((long) to + pixels) * channels) {
            throw new IllegalArgumentException("normalize: pixels " + from + ".." + (from + pixels) + " to " + to + " of " + channels + " channels out of range");
        }
        float[] mean = f.mean(), a = f.scale(), b = f.shift();
        int chunks = Math.max(1, Math.min(pixels, CHUNKS));
        Parallel.forEach(chunks, ch -> {
            int up = channels - channels % L;
            for (int p = (int) ((long) ch * pixels / chunks); p < (int) ((long) (ch + 1) * pixels / chunks); p++) {
                int o = (to + p) * channels, i = (from + p) * channels, c = 0;
                for (; c < up; c += L) {
                    FloatVector v = FloatVector.fromArray(F, x, i + c).sub(FloatVector.fromArray(F, mean, c))
                            .fma(FloatVector.fromArray(F, a, c), FloatVector.fromArray(F, b, c));
                    if (silu) v = v.div(VectorMath.exp(v.neg()).add(1f));
                    v.intoArray(out, o + c);
                }
                for (; c < channels; c++) {
                    float v = (x[i + c] - mean[c]) * a[c] + b[c];
                    out[o + c] = silu ? v / (1f + (float) Math.exp(-v)) : v;
                }
            }
        });
    }

    /**
     * Per-channel sums and sums of squares of an image's pixels, added part by part (in double, the parts' pixels
     * in a fixed number of chunks): GroupNorm's statistics of an image that is never held whole. The variance is
     * E[x^2] - E[x]^2, in double: the same as {@link #groupNormAffine}'s two passes to f32 rounding.
     */
    public static final class Moments {
        private final double[] sum, squares;
        private long pixels;

        public Moments(int channels) {
            sum = new double[channels];
            squares = new double[channels];
        }

        /** Adds pixels [0, n) of x [*, C]. */
        public void add(float[] x, int n) {
            int channels = sum.length, chunks = Math.max(1, Math.min(n, CHUNKS));
            if (x.length < (long) n * channels) throw new IllegalArgumentException("moments: array too small");
            double[][] s = new double[chunks][], q = new double[chunks][];
            Parallel.forEach(chunks, ch -> {
                double[] a = new double[channels], b = new double[channels];
                for (int p = (int) ((long) ch * n / chunks); p < (int) ((long) (ch + 1) * n / chunks); p++) {
                    for (int c = 0, o = p * channels; c < channels; c++) {
                        double v = x[o + c];
                        a[c] += v;
                        b[c] += v * v;
                    }
                }
                s[ch] = a;
                q[ch] = b;
            });
            for (int ch = 0; ch < chunks; ch++) {
                for (int c = 0; c < channels; c++) {
                    sum[c] += s[ch][c];
                    squares[c] += q[ch][c];
                }
            }
            pixels += n;
        }

        /** Adds the per-channel sums and sums of squares of {@code n} pixels summed elsewhere (a kernel's own pass). */
        public void add(double[] sums, double[] squareSums, long n) {
            if (sums.length != sum.length || squareSums.length != sum.length) throw new IllegalArgumentException("moments: " + sums.length + " channels for " + sum.length);
            for (int c = 0; c < sum.length; c++) {
                sum[c] += sums[c];
                squares[c] += squareSums[c];
            }
            pixels += n;
        }

        public int channels() { return sum.length; }

        /** The {@link Affine} map of GroupNorm over all pixels added so far. */
        public Affine groupNorm(int groups, float[] gamma, float[] beta, float eps) {
            int channels = sum.length;
            if (channels % groups != 0) throw new IllegalArgumentException("groupNorm: " + channels + " channels in " + groups + " groups");
            if (pixels == 0) throw new IllegalStateException("groupNorm of no pixels");
            int cpg = channels / groups;
            float[] mean = new float[channels], a = new float[channels], b = new float[channels];
            for (int g = 0; g < groups; g++) {
                double s = 0, q = 0, count = (double) cpg * pixels;
                for (int c = g * cpg; c < (g + 1) * cpg; c++) {
                    s += sum[c];
                    q += squares[c];
                }
                double m = s / count, inv = 1.0 / Math.sqrt(Math.max(0, q / count - m * m) + eps);
                for (int c = g * cpg; c < (g + 1) * cpg; c++) {
                    mean[c] = (float) m;
                    a[c] = gamma == null ? (float) inv : gamma[c] * (float) inv;
                    b[c] = beta == null ? 0f : beta[c];
                }
            }
            return new Affine(mean, a, b);
        }
    }

    /**
     * Per group, the sum over its channels and all pixels of x (mean null) or of (x - mean[c])^2: f32 vector runs
     * of {@value #RUN} pixels per channel, added in double per chunk, chunks added in order.
     */
    private static double[] groupSums(float[] x, int pixels, int channels, int cpg, int chunks, float[] mean) {
        double[][] partial = new double[chunks][];
        Parallel.forEach(chunks, ch -> {
            int p0 = (int) ((long) ch * pixels / chunks), p1 = (int) ((long) (ch + 1) * pixels / chunks);
            int up = channels - channels % L;
            double[] total = new double[channels];
            float[] run = new float[channels];
            for (int r0 = p0; r0 < p1; r0 += RUN) {
                Arrays.fill(run, 0f);
                for (int p = r0; p < Math.min(p1, r0 + RUN); p++) {
                    int o = p * channels, c = 0;
                    for (; c < up; c += L) {
                        FloatVector v = FloatVector.fromArray(F, x, o + c);
                        if (mean != null) {
                            v = v.sub(FloatVector.fromArray(F, mean, c));
                            v = v.mul(v);
                        }
                        v.add(FloatVector.fromArray(F, run, c)).intoArray(run, c);
                    }
                    for (; c < channels; c++) {
                        float v = mean == null ? x[o + c] : (x[o + c] - mean[c]) * (x[o + c] - mean[c]);
                        run[c] += v;
                    }
                }
                for (int c = 0; c < channels; c++) total[c] += run[c];
            }
            partial[ch] = total;
        });
        double[] groups = new double[channels / cpg];
        for (double[] total : partial) {
            for (int c = 0; c < channels; c++) groups[c / cpg] += total[c];
        }
        return groups;
    }
}
