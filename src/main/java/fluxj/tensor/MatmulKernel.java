package fluxj.tensor;

/**
 * A backend for {@link Matmul}: {@code y[M,N] = x[M,K] * w[N,K]^T + bias[N]} with the weight in its stored
 * dtype and scale. Chosen once at startup, so an accelerated backend (e.g. a native BLAS through FFM) can
 * plug in behind the one matmul call all model code makes. Arguments arrive already validated.
 */
public interface MatmulKernel {
    /** A short name for logs and benchmark output. */
    String name();

    void matmul(float[] x, int m, int k, Tensor w, float[] bias, float[] y);
}
