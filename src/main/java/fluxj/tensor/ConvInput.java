package fluxj.tensor;

/**
 * The image a convolution reads, described instead of materialised: x [pixels, channels] channels-last, mapped
 * per channel by a GroupNorm {@link ChannelsLast.Affine} (then SiLU) when {@code norm} is given, and
 * nearest-upsampled 2x when {@code upsample2x}. A kernel that fills its own input buffer
 * ({@link ConvKernel#fusesInput()}) applies the map as it writes that buffer, so the mapped image never exists
 * as an f32 array; the others get it from {@link #materialize}.
 */
public record ConvInput(float[] x, int channels, ChannelsLast.Affine norm, boolean silu, boolean upsample2x) {

    public ConvInput {
        if (norm != null && norm.channels() != channels) throw new IllegalArgumentException("conv input: a norm of " + norm.channels() + " channels on " + channels);
        if (silu && norm == null) throw new IllegalArgumentException("conv input: SiLU without a norm");
    }

    /** x as it is. */
    public static ConvInput of(float[] x, int channels) { return new ConvInput(x, channels, null, false, false); }

    /** f(x), then SiLU when {@code silu}. */
    public static ConvInput normalized(float[] x, ChannelsLast.Affine f, boolean silu) {
        return new ConvInput(x, f.channels(), f, silu, false);
    }

    /** x nearest-upsampled 2x. */
    public static ConvInput upsampled(float[] x, int channels) { return new ConvInput(x, channels, null, false, true); }

    /** Whether the image is x itself. */
    public boolean plain() { return norm == null && !upsample2x; }

    /** The described image as an array, h x w being its size (after the upsample): x itself when {@link #plain}. */
    public float[] materialize(int h, int w) {
        int sh = upsample2x ? h / 2 : h, sw = upsample2x ? w / 2 : w;
        float[] y = x;
        if (norm != null) {
            y = new float[Math.multiplyExact(channels, Math.multiplyExact(sh, sw))];
            ChannelsLast.normalize(x, 0, sh * sw, norm, silu, y, 0);
        }
        return upsample2x ? Upsample.nearest2x(y, channels, sh, sw) : y;
    }
}
