package fluxj.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@code y[M,N] = x[M,K] * w[N,K]^T + bias[N]}: f32 activations times weights in their stored dtype, widened
 * inside the kernel, accumulated in f32. The one seam every linear layer and convolution goes through.
 */
public final class Matmul {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int NB = 16;

    private Matmul() {}

    public static float[] matmul(float[] x, int m, int k, Tensor w, float[] bias) {
        float[] y = new float[m * w.rows()];
        matmul(x, m, k, w, bias, y);
        return y;
    }

    public static void matmul(float[] x, int m, int k, Tensor w, float[] bias, float[] y) {
        int n = w.rows();
        if (w.cols() != k) throw new IllegalArgumentException("matmul: " + w + " has " + w.cols() + " columns, input has " + k);
        if (x.length < (long) m * k || y.length < (long) m * n) throw new IllegalArgumentException("matmul: array too small");
        int blocks = (n + NB - 1) / NB;
        Parallel.forEach(blocks, b -> {
            int n0 = b * NB, n1 = Math.min(n, n0 + NB);
            float[] panel = new float[(n1 - n0) * k];
            Widen.rows(w, n0, n1, panel);
            for (int i = 0; i < m; i++) {
                int xo = i * k;
                for (int j = n0; j < n1; j++) {
                    y[i * n + j] = dot(x, xo, panel, (j - n0) * k, k) + (bias == null ? 0f : bias[j]);
                }
            }
        });
    }

    static float dot(float[] a, int ao, float[] b, int bo, int k) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0, up = S.loopBound(k);
        for (; i < up; i += S.length()) {
            acc = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < k; i++) s += a[ao + i] * b[bo + i];
        return s;
    }
}
