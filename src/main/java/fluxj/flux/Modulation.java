package fluxj.flux;

/**
 * adaLN modulation: a linear map of SiLU(vec) cut into chunks of the hidden width, read in BFL's order
 * (shift, scale, gate) per modulated sub-layer; LastLayer has (shift, scale) only.
 */
record Modulation(Linear lin, int hidden) {

    /** One modulated sub-layer: {@code x -> (1 + scale) * norm(x) + shift}, then {@code residual + gate * f(x)}. */
    record Out(float[] shift, float[] onePlusScale, float[] gate) {}

    /** The modulations for {@code siluVec} = SiLU(vec), one per (shift, scale[, gate]) group of chunks. */
    Out[] apply(float[] siluVec, boolean gated) {
        float[] y = lin.apply(siluVec, 1);
        int per = gated ? 3 : 2, groups = y.length / (per * hidden);
        Out[] out = new Out[groups];
        for (int g = 0; g < groups; g++) {
            int o = g * per * hidden;
            float[] shift = java.util.Arrays.copyOfRange(y, o, o + hidden);
            float[] scale = java.util.Arrays.copyOfRange(y, o + hidden, o + 2 * hidden);
            for (int i = 0; i < hidden; i++) scale[i] = 1f + scale[i];
            out[g] = new Out(shift, scale, gated ? java.util.Arrays.copyOfRange(y, o + 2 * hidden, o + 3 * hidden) : null);
        }
        return out;
    }
}
