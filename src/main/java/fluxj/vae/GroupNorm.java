package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.tensor.Ops;

/** GroupNorm(groups, eps 1e-6) with per-channel affine, optionally followed by SiLU (the VAE's "swish"). */
record GroupNorm(int channels, int groups, float[] gamma, float[] beta) {

    static GroupNorm load(Checkpoint ck, String name, int channels, int groups) {
        if (channels % groups != 0) {
            throw new fluxj.tensor.ModelFormatException(ck.description(), name + " normalises " + channels + " channels in " + groups + " groups: not divisible");
        }
        return new GroupNorm(channels, groups, ck.get(name + ".weight").expectShape(channels).toFloats(),
                ck.get(name + ".bias").expectShape(channels).toFloats());
    }

    /** silu(norm(x)) of x [C, hw] into a new array. */
    float[] silu(float[] x, int hw) {
        float[] out = new float[channels * hw];
        Ops.groupNorm(x, channels, hw, groups, gamma, beta, VaeConfig.EPS, out);
        Ops.silu(out, out.length);
        return out;
    }

    /** x = silu(norm(x)) in place (each group's statistics are taken before it is overwritten). */
    float[] siluInPlace(float[] x, int hw) {
        Ops.groupNorm(x, channels, hw, groups, gamma, beta, VaeConfig.EPS, x);
        Ops.silu(x, channels * hw);
        return x;
    }

    float[] apply(float[] x, int hw) {
        float[] out = new float[channels * hw];
        Ops.groupNorm(x, channels, hw, groups, gamma, beta, VaeConfig.EPS, out);
        return out;
    }
}
