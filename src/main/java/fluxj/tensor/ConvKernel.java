package fluxj.tensor;

/**
 * A backend for {@link Conv2d}: {@code out = conv(x, weight) + bias} for one image (batch 1) in Conv2d's
 * activation layout, the weight [Cout, Cin, kh, kw] (or [Cout, Cin]) in its stored dtype. Chosen once at startup
 * with the matmul backend ({@code --matmul}). Arguments arrive already validated.
 */
public interface ConvKernel {
    /** A short name for logs and benchmark output. */
    String name();

    void conv2d(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Conv2d.Padding pad, float[] out);
}
