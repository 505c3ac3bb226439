package fluxj.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MatmulTest {
    /**
     * Plain scalar reference in double: y = x w^T + b with w widened element by element (dtype table and scale).
     * Returns also sum |x||w| per output, which bounds the f32 rounding of any summation order.
     */
    private static double[][] reference(float[] x, int m, int k, Tensor w, float[] bias) {
        int n = w.rows();
        double[] y = new double[m * n], mag = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = bias == null ? 0 : bias[j], a = bias == null ? 0 : Math.abs(bias[j]);
                for (int p = 0; p < k; p++) {
                    double wv = w.get((long) j * k + p);
                    s += x[i * k + p] * wv;
                    a += Math.abs(x[i * k + p] * wv);
                }
                y[i * n + j] = s;
                mag[i * n + j] = a;
            }
        }
        return new double[][] {y, mag};
    }

    /**
     * f32 accumulation in any order errs by at most ~K * eps * sum|x||w| (eps = 2^-24 per rounding, K additions);
     * widening is exact, and the fp8 scale adds one rounding per weight (another eps * sum|x||w|).
     */
    private static void check(int m, int k, int n, DType dt, float scale, boolean withBias, long seed) {
        Random rnd = new Random(seed);
        Tensor w = Weights.random(dt, n, k, scale, rnd);
        float[] x = Weights.randomFloats(m * k, rnd);
        float[] bias = withBias ? Weights.randomFloats(n, rnd) : null;
        float[] y = new float[m * n];
        java.util.Arrays.fill(y, Float.NaN);
        Matmul.matmul(x, m, k, w, bias, y);
        double[][] ref = reference(x, m, k, w, bias);
        for (int i = 0; i < m * n; i++) {
            double tol = (k + 2) * 0x1p-24 * ref[1][i] + 1e-30;
            double err = Math.abs(y[i] - ref[0][i]);
            int row = i / n, col = i % n;
            assertTrue(err <= tol, () -> String.format("%s m=%d k=%d n=%d y[%d,%d]=%g, reference %g (err %.3g > tol %.3g)",
                    dt, m, k, n, row, col, y[row * n + col], ref[0][row * n + col], err, tol));
        }
    }

    @Test
    void geluEpilogueIsTheProductThenGelu() {
        // The Java kernel applies an epilogue after the product with Epilogue.apply: the same bits as doing it apart.
        Random rnd = new Random(4);
        int m = 13, k = 40;
        float[] x = Weights.randomFloats(m * k, rnd);
        Tensor[] w = {Weights.random(DType.BF16, 21, k, 1f, rnd), Weights.random(DType.F16, 7, k, 1f, rnd)};
        float[][] bias = {Weights.randomFloats(21, rnd), null};
        float[][] y = {new float[m * 21], new float[m * 7]};
        Matmul.matmul(x, m, k, w, bias, new Epilogue[] {Epilogue.GELU_TANH, Epilogue.NONE}, y);
        float[] gelu = Matmul.matmul(x, m, k, w[0], bias[0]), plain = Matmul.matmul(x, m, k, w[1], null);
        Ops.geluTanhRows(gelu, m, 21, gelu, 21, 0);
        assertArrayEquals(gelu, y[0]);
        assertArrayEquals(plain, y[1]);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"})
    void everyWeightDtypeOddSizes(DType dt) {
        // Odd sizes. Row-dot path (m <= 64): GEMV (m = 1), row groups of 4 and leftovers, k not a multiple of the
        // vector length and longer than one 1024 chunk. Packed path (m > 64): ragged row tiles (m % 6), ragged
        // column panels (n % 64), k spanning two 384-deep blocks.
        int[][] shapes = {{1, 37, 70}, {2, 1100, 31}, {3, 5, 3}, {7, 300, 65}, {13, 17, 129}, {64, 40, 9},
                {65, 300, 131}, {66, 64, 64}, {71, 400, 70}, {100, 17, 3}};
        long seed = 1;
        for (int[] s : shapes) {
            check(s[0], s[1], s[2], dt, 1f, true, seed++);
            check(s[0], s[1], s[2], dt, 1f, false, seed++);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F8_E4M3", "F8_E5M2"})
    void scaledFp8(DType dt) {
        check(1, 129, 40, dt, 0.0123f, true, 11);
        check(9, 129, 70, dt, 3.5f, true, 12);
        check(67, 129, 70, dt, 3.5f, true, 13);
    }

    @Test
    void manyColumnBlocksAndRowBlocks() {
        // Enough column blocks to split over threads, and few enough to split rows too.
        check(70, 70, 600, DType.BF16, 1f, true, 21);
        check(130, 40, 30, DType.F32, 1f, true, 22);
    }

    @Test
    void emptyInnerDimensionGivesTheBiasWhateverTheRowCount() {
        // k = 0: every output is the bias (or 0), on the kernels' small and blocked row paths alike; y starts dirty.
        for (int m : new int[] {3, 100}) {
            Tensor w = Weights.random(DType.BF16, 5, 0, 1f, new Random(1));
            float[] bias = {1, 2, 3, 4, 5}, y = new float[m * 5], none = new float[m * 5];
            Arrays.fill(y, Float.NaN);
            Arrays.fill(none, Float.NaN);
            Matmul.matmul(new float[0], m, 0, w, bias, y);
            Matmul.matmul(new float[0], m, 0, new Tensor[] {w}, new float[][] {null}, new float[][] {none});
            for (int i = 0; i < m * 5; i++) {
                assertEquals(bias[i % 5], y[i], "with bias, m = " + m);
                assertEquals(0f, none[i], "without bias, m = " + m);
            }
        }
    }

    @Test
    void severalWeightsGiveExactlyTheSingleProducts() {
        // The multi-weight call is how linear layers run; on the Java path it must change no bit.
        Random rnd = new Random(5);
        int m = 13, k = 40;
        float[] x = new float[m * k];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        Tensor[] w = {Weights.random(DType.BF16, 24, k, 1f, rnd), Weights.random(DType.F8_E4M3, 7, k, 0.5f, rnd), Weights.random(DType.F32, 33, k, 1f, rnd)};
        float[][] bias = {new float[24], null, new float[33]};
        for (int i = 0; i < 24; i++) bias[0][i] = (float) rnd.nextGaussian();
        float[][] y = {new float[m * 24], new float[m * 7], new float[m * 33]};
        Matmul.matmul(x, m, k, w, bias, y);
        for (int i = 0; i < w.length; i++) assertArrayEquals(Matmul.matmul(x, m, k, w[i], bias[i]), y[i], "weight " + i);
        assertThrows(IllegalArgumentException.class, () -> Matmul.matmul(x, m, k, w, new float[2][], y));
        assertThrows(IllegalArgumentException.class, () -> Matmul.matmul(x, m, k + 1, w, bias, y));
    }

    @Test
    void rejectsMismatchedShapes() {
        Tensor w = Weights.random(DType.F32, 4, 8, 1f, new Random(1));
        assertThrows(IllegalArgumentException.class, () -> Matmul.matmul(new float[9], 1, 9, w, null));
        assertThrows(IllegalArgumentException.class, () -> Matmul.matmul(new float[8], 2, 8, w, null));
        assertThrows(IllegalArgumentException.class, () -> Matmul.matmul(new float[8], 1, 8, w, new float[3]));
    }
}
