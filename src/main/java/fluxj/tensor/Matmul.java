package fluxj.tensor;

import fluxj.tensor.onednn.MatmulBackend;
import fluxj.tensor.onednn.OneDnnMatmul;

import java.util.Arrays;
import java.util.function.Supplier;

/**
 * {@code y[M,N] = x[M,K] * w[N,K]^T + bias[N]}: f32 activations times weights in their stored dtype, widened
 * inside the kernel, accumulated in f32. The one seam every linear layer and convolution goes through; the
 * work is done by the {@link MatmulKernel} chosen at startup by {@code --matmul}: {@link VectorMatmul}, pure Java
 * (the default), or oneDNN's bf16 matmul ({@link OneDnnMatmul}).
 */
public final class Matmul {
    private static final MatmulKernel KERNEL = switch (MatmulBackend.current()) {
        case JAVA -> new VectorMatmul();
        case ONEDNN -> new OneDnnMatmul(new VectorMatmul());
    };

    private static final ScopedValue<MatmulKernel> OVERRIDE = ScopedValue.newInstance();

    private Matmul() {}

    /** The backend in use: the one chosen at startup unless {@link #computing} names another for this thread. */
    public static MatmulKernel kernel() { return OVERRIDE.orElse(KERNEL); }

    /** {@code body}'s result with {@code kernel} doing this thread's products (and attention, which follows it). */
    public static <T> T computing(MatmulKernel kernel, Supplier<T> body) {
        return ScopedValue.where(OVERRIDE, kernel).call(body::get);
    }

    public static float[] matmul(float[] x, int m, int k, Tensor w, float[] bias) {
        float[] y = new float[m * w.rows()];
        matmul(x, m, k, w, bias, y);
        return y;
    }

    public static void matmul(float[] x, int m, int k, Tensor w, float[] bias, float[] y) {
        validate(x, m, k, w, bias, y);
        if (m == 0 || w.rows() == 0) return;
        if (k == 0) {
            biasOnly(m, w.rows(), bias, y);
            return;
        }
        kernel().matmul(x, m, k, w, bias, y);
    }

    /** An empty inner dimension: every row of y is the bias (or zero), which no kernel need special-case. */
    private static void biasOnly(int m, int n, float[] bias, float[] y) {
        for (int r = 0; r < m; r++) {
            if (bias == null) Arrays.fill(y, r * n, (r + 1) * n, 0f);
            else System.arraycopy(bias, 0, y, r * n, n);
        }
    }

    /** {@code y[i] = x * w[i]^T + bias[i]} for every i (bias[i] may be null): the same input times several weights. */
    public static void matmul(float[] x, int m, int k, Tensor[] w, float[][] bias, float[][] y) {
        matmul(x, m, k, w, bias, Epilogue.none(w.length), y);
    }

    /** {@code y[i] = epilogue[i](x * w[i]^T + bias[i])} for every i: the products with an activation after each (or none). */
    public static void matmul(float[] x, int m, int k, Tensor[] w, float[][] bias, Epilogue[] epilogue, float[][] y) {
        if (bias.length != w.length || y.length != w.length || epilogue.length != w.length) {
            throw new IllegalArgumentException("matmul: " + w.length + " weights, " + bias.length + " biases, "
                    + epilogue.length + " epilogues, " + y.length + " outputs");
        }
        for (int i = 0; i < w.length; i++) validate(x, m, k, w[i], bias[i], y[i]);
        if (m == 0) return;
        if (k == 0) {
            for (int i = 0; i < w.length; i++) {
                biasOnly(m, w[i].rows(), bias[i], y[i]);
                epilogue[i].apply(y[i], m, w[i].rows());
            }
            return;
        }
        boolean plain = true;
        for (Epilogue e : epilogue) plain &= e == Epilogue.NONE;
        MatmulKernel kernel = kernel();
        if (plain) kernel.matmul(x, m, k, w, bias, y);
        else kernel.matmul(x, m, k, w, bias, epilogue, y);
    }

    private static void validate(float[] x, int m, int k, Tensor w, float[] bias, float[] y) {
        int n = w.rows();
        if (w.cols() != k) throw new IllegalArgumentException("matmul: " + w + " has " + w.cols() + " columns, input has " + k);
        if (!w.dtype().isFloat()) throw new IllegalArgumentException("matmul: " + w + " is not a floating-point weight");
        if (x.length < (long) m * k || y.length < (long) m * n) throw new IllegalArgumentException("matmul: array too small");
        if (bias != null && bias.length < n) throw new IllegalArgumentException("matmul: bias has " + bias.length + " values, " + w + " needs " + n);
    }
}
