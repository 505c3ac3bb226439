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

    /** This backend with image and weights kept in f32 where it would round them to bf16; itself when it rounds nothing of its own. */
    default ConvKernel f32() { return this; }

    /**
     * Whether {@link #conv2d(ConvInput, int, int, Tensor, float[], int, Conv2d.Padding, float[], float[], ChannelsLast.Moments)}
     * maps its input, adds the skip and sums the output's moments within its own passes over the data (else it
     * runs them as separate passes, and callers keep their own code for those).
     */
    default boolean fusesInput() { return false; }

    /**
     * {@code out = conv(in) + bias (+ skip)}, h x w the size of the image {@code in} describes (after its
     * upsample), and out's per-channel moments added to {@code moments}; skip and moments may be null. out may
     * be {@code in.x()}.
     */
    default void conv2d(ConvInput in, int h, int w, Tensor weight, float[] bias, int stride, Conv2d.Padding pad, float[] out,
                        float[] skip, ChannelsLast.Moments moments) {
        materialized(this, in, h, w, weight, bias, stride, pad, out, skip, moments);
    }

    /** The unfused form of that call on {@code kernel}: the input materialised, convolved, the skip added, the moments summed. */
    static void materialized(ConvKernel kernel, ConvInput in, int h, int w, Tensor weight, float[] bias, int stride, Conv2d.Padding pad,
                             float[] out, float[] skip, ChannelsLast.Moments moments) {
        float[] x = in.materialize(h, w);
        if (x == out) x = x.clone();
        kernel.conv2d(x, h, w, weight, bias, stride, pad, out);
        int kh = weight.rank() == 4 ? weight.dim(1) : 1, kw = weight.rank() == 4 ? weight.dim(2) : 1;
        int pixels = Conv2d.outSize(h, kh, stride, pad.top(), pad.bottom()) * Conv2d.outSize(w, kw, stride, pad.left(), pad.right());
        if (skip != null) Ops.add(out, skip, pixels * weight.dim(0));
        if (moments != null) moments.add(out, pixels);
    }
}
