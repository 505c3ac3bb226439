package fluxj.tensor;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;
import java.util.function.DoubleUnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each vectorised op against the plain scalar formula evaluated in double, on odd sizes (vector tails) and on
 * sizes large enough to be split over threads. Tolerances: element-wise ops compute a handful of f32 operations
 * plus VectorMath's 2-ulp exp, so 1e-6 relative (+1e-7 absolute near zero) bounds them; norms sum up to a few thousand
 * f32 values in 16 lanes, whose rounding (~n/16 * eps relative in the mean and variance) stays under 2e-6.
 */
class OpsTest {
    private static final int[] SIZES = {1, 15, 16, 17, 1003, 200_003};

    private static void close(double want, float got, double rel, double abs, String what) {
        double err = Math.abs(got - want);
        assertTrue(err <= rel * Math.abs(want) + abs, () -> what + ": got " + got + ", want " + want);
    }

    private static float[] data(int n, float spread, long seed) {
        Random rnd = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextGaussian() * spread);
        return a;
    }

    private interface InPlace { void apply(float[] x, int n); }

    private static void elementwise(String name, InPlace op, DoubleUnaryOperator ref) {
        for (int n : SIZES) {
            float[] x = data(n + 3, 3f, n);
            float[] orig = x.clone();
            op.apply(x, n);
            for (int i = 0; i < n; i++) close(ref.applyAsDouble(orig[i]), x[i], 1e-6, 1e-7, name + " n=" + n + " x=" + orig[i]);
            for (int i = n; i < n + 3; i++) assertTrue(x[i] == orig[i], name + " wrote past n");
        }
    }

    @Test
    void activations() {
        double c = Math.sqrt(2 / Math.PI);
        elementwise("geluTanh", Ops::geluTanh, v -> 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v * v * v))));
        elementwise("geluErf", Ops::geluErf, v -> 0.5 * v * (1 + Ops.erf(v / Math.sqrt(2))));
        elementwise("silu", Ops::silu, v -> v / (1 + Math.exp(-v)));
        elementwise("quickGelu", Ops::quickGelu, v -> v / (1 + Math.exp(-1.702 * v)));
        elementwise("relu", Ops::relu, v -> Math.max(0, v));
    }

    @Test
    void geluTanhRowsWritesEachRowIntoItsPlace() {
        double c = Math.sqrt(2 / Math.PI);
        for (int[] s : new int[][] {{1, 5}, {3, 37}, {7, 64}, {300, 333}}) {
            int rows = s[0], cols = s[1], dstCols = cols + 9, dstCol = 4;
            float[] src = data(rows * cols, 3f, cols), dst = new float[rows * dstCols];
            Arrays.fill(dst, Float.NaN);
            Ops.geluTanhRows(src, rows, cols, dst, dstCols, dstCol);
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < dstCols; j++) {
                    float got = dst[r * dstCols + j];
                    if (j < dstCol || j >= dstCol + cols) {
                        assertTrue(Float.isNaN(got), "wrote outside its columns");
                        continue;
                    }
                    double v = src[r * cols + j - dstCol];
                    close(0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v * v * v))), got, 1e-6, 1e-7, "geluTanhRows x=" + v);
                }
            }
            float[] inPlace = src.clone();
            Ops.geluTanhRows(inPlace, rows, cols, inPlace, cols, 0);
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < cols; j++) assertEquals(dst[r * dstCols + dstCol + j], inPlace[r * cols + j], "in place gives the same bits");
            }
        }
    }

    @Test
    void erfMatchesKnownValues() {
        // erf(0.5), erf(1), erf(2) to 10 digits (Abramowitz & Stegun table 7.1); the fit is good to 1.2e-7.
        assertTrue(Math.abs(Ops.erf(0.5) - 0.5204998778) < 1.2e-7);
        assertTrue(Math.abs(Ops.erf(1) - 0.8427007929) < 1.2e-7);
        assertTrue(Math.abs(Ops.erf(-2) + 0.9953222650) < 1.2e-7);
    }

    @Test
    void addAndBroadcasts() {
        for (int[] s : new int[][] {{1, 1}, {3, 37}, {5, 16}, {300, 333}}) {
            int rows = s[0], cols = s[1], n = rows * cols;
            float[] a = data(n, 1, 1), b = data(n, 1, 2), v = data(cols, 1, 3);
            float[] sum = a.clone(), plus = a.clone(), times = a.clone();
            Ops.add(sum, b, n);
            Ops.addRow(plus, rows, cols, v);
            Ops.mulRow(times, rows, cols, v);
            float[] product = a.clone();
            Ops.mul(product, b, n);
            for (int i = 0; i < n; i++) {
                assertTrue(sum[i] == a[i] + b[i], "add");
                assertTrue(plus[i] == a[i] + v[i % cols], "addRow");
                assertTrue(times[i] == a[i] * v[i % cols], "mulRow");
                assertTrue(product[i] == a[i] * b[i], "mul");
            }
        }
    }

    @Test
    void layerNormAndRmsNorm() {
        for (int[] s : new int[][] {{1, 5}, {3, 37}, {70, 3072}, {2, 17}}) {
            int rows = s[0], dim = s[1];
            float[] x = data(rows * dim, 2, dim), g = data(dim, 1, 5), b = data(dim, 1, 6);
            for (int i = 0; i < x.length; i++) x[i] += 3; // an offset mean makes the centring matter
            float[] ln = new float[x.length], lnPlain = new float[x.length], rms = new float[x.length];
            Ops.layerNorm(x, rows, dim, g, b, 1e-6f, ln);
            Ops.layerNorm(x, rows, dim, null, null, 1e-6f, lnPlain);
            Ops.rmsNorm(x, rows, dim, g, 1e-6f, rms);
            for (int r = 0; r < rows; r++) {
                double mean = 0, var = 0, ss = 0;
                for (int i = 0; i < dim; i++) { mean += x[r * dim + i]; ss += (double) x[r * dim + i] * x[r * dim + i]; }
                mean /= dim;
                for (int i = 0; i < dim; i++) var += Math.pow(x[r * dim + i] - mean, 2);
                double inv = 1 / Math.sqrt(var / dim + 1e-6), rinv = 1 / Math.sqrt(ss / dim + 1e-6);
                for (int i = 0; i < dim; i++) {
                    int j = r * dim + i;
                    double z = (x[j] - mean) * inv;
                    close(z * g[i] + b[i], ln[j], 2e-6, 2e-6, "layerNorm " + rows + "x" + dim);
                    close(z, lnPlain[j], 2e-6, 2e-6, "layerNorm no affine");
                    close(x[j] * rinv * g[i], rms[j], 2e-6, 1e-7, "rmsNorm");
                }
            }
        }
    }

    @Test
    void softmaxRows() {
        for (int[] s : new int[][] {{1, 1}, {4, 33}, {3, 4352}}) {
            int rows = s[0], cols = s[1];
            float[] x = data(rows * cols, 4, cols), y = x.clone();
            Ops.softmax(y, rows, cols);
            for (int r = 0; r < rows; r++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int i = 0; i < cols; i++) max = Math.max(max, x[r * cols + i]);
                for (int i = 0; i < cols; i++) sum += Math.exp(x[r * cols + i] - max);
                for (int i = 0; i < cols; i++) {
                    close(Math.exp(x[r * cols + i] - max) / sum, y[r * cols + i], 2e-6, 1e-12, "softmax " + rows + "x" + cols);
                }
            }
        }
    }
}
