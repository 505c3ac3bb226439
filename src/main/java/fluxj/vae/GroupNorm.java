package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.tensor.ChannelsLast;

/** GroupNorm(groups, eps 1e-6) with per-channel affine on channels-last x [pixels, C], optionally followed by SiLU (the VAE's "swish"). */
record GroupNorm(int channels, int groups, float[] gamma, float[] beta) {

    static GroupNorm load(Checkpoint ck, String name, int channels, int groups) {
        if (channels % groups != 0) {
            throw new fluxj.tensor.ModelFormatException(ck.description(), name + " normalises " + channels + " channels in " + groups + " groups: not divisible");
        }
        return new GroupNorm(channels, groups, ck.get(name + ".weight").expectShape(channels).toFloats(),
                ck.get(name + ".bias").expectShape(channels).toFloats());
    }

    /** silu(norm(x)) of x [hw, C] into out, whose old contents are overwritten. */
    float[] silu(float[] x, int hw, float[] out) {
        ChannelsLast.groupNorm(x, hw, channels, groups, gamma, beta, VaeConfig.EPS, true, out);
        return out;
    }

    /** x = silu(norm(x)) in place (the statistics are taken before x is overwritten). */
    float[] siluInPlace(float[] x, int hw) {
        ChannelsLast.groupNorm(x, hw, channels, groups, gamma, beta, VaeConfig.EPS, true, x);
        return x;
    }

    /** The map this norm applies to x [hw, C], from the statistics of all of x. */
    ChannelsLast.Affine affine(float[] x, int hw) {
        return ChannelsLast.groupNormAffine(x, hw, channels, groups, gamma, beta, VaeConfig.EPS);
    }

    /** The map this norm applies to an image whose pixels {@code m} has summed. */
    ChannelsLast.Affine affine(ChannelsLast.Moments m) {
        return m.groupNorm(groups, gamma, beta, VaeConfig.EPS);
    }

    float[] apply(float[] x, int hw) {
        float[] out = new float[channels * hw];
        ChannelsLast.groupNorm(x, hw, channels, groups, gamma, beta, VaeConfig.EPS, false, out);
        return out;
    }
}
