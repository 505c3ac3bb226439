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

    /** This backend with activations and weights kept in f32 where it would round them to bf16; itself when it rounds nothing. */
    default MatmulKernel f32() { return this; }

    /**
     * Bytes of buffers outside the Java heap this kernel keeps after products of up to m rows, k columns of x and n
     * rows of weight (a phase's workspace, which the memory plan counts); none for the Java kernels.
     */
    default long bufferBytes(int m, int k, int n) { return 0; }

    /**
     * {@code y[i] = x * w[i]^T + bias[i]} for every i: one input, several weights (q, k, v and MLP projections).
     * Kernels that prepare x once (e.g. narrow it to bf16) override this; the default is one product after another.
     */
    default void matmul(float[] x, int m, int k, Tensor[] w, float[][] bias, float[][] y) {
        for (int i = 0; i < w.length; i++) if (w[i].rows() > 0) matmul(x, m, k, w[i], bias[i], y[i]);
    }

    /**
     * {@code y[i] = epilogue[i](x * w[i]^T + bias[i])}. Kernels that can apply an epilogue inside the product
     * override this; the default is the products, then {@link Epilogue#apply} on each output.
     */
    default void matmul(float[] x, int m, int k, Tensor[] w, float[][] bias, Epilogue[] epilogue, float[][] y) {
        matmul(x, m, k, w, bias, y);
        for (int i = 0; i < w.length; i++) epilogue[i].apply(y[i], m, w[i].rows());
    }
}
