package fluxj.tensor;

/**
 * A backend for {@link Conv2d}: {@code out = conv(x, weight) + bias} for one channels-last image (batch 1, x
 * [h*w, Cin], out [ho*wo, Cout]), the weight tap-major [Cout, kh, kw, Cin] ({@link Conv2d#channelsLast}) or
 * [Cout, Cin], in its stored dtype. Chosen once at startup with the matmul backend ({@code --matmul}). Arguments
 * arrive already validated.
 */
public interface ConvKernel {
    /** A short name for logs and benchmark output. */
    String name();

    void conv2d(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Conv2d.Padding pad, float[] out);
}
