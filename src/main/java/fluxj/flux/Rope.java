package fluxj.flux;

/**
 * FLUX's N-axis rotary embedding (BFL EmbedND + rope + apply_rope): each position id axis {@code a} turns
 * {@code axesDim[a]/2} consecutive (even, odd) pairs of every head by {@code pos_a * theta^(-2j/axesDim[a])}.
 * Angles are formed in f32 as torch does (the id values and the frequencies are f32 tensors there).
 */
record Rope(int[] axesDim, int theta) {

    /** cos/sin of every token's angles, [tokens, headDim/2] each. */
    record Angles(float[] cos, float[] sin, int pairs) {}

    /** The angles for {@code tokens} position ids given as [tokens, axes] rows. */
    Angles angles(float[] ids, int tokens) {
        int axes = axesDim.length, pairs = 0;
        for (int a : axesDim) pairs += a / 2;
        float[] omega = new float[pairs];
        int[] axisOf = new int[pairs];
        for (int a = 0, p = 0; a < axes; a++) {
            for (int j = 0; j < axesDim[a] / 2; j++, p++) {
                float scale = (2f * j) / axesDim[a];
                omega[p] = 1f / (float) Math.pow(theta, scale);
                axisOf[p] = a;
            }
        }
        float[] cos = new float[tokens * pairs], sin = new float[tokens * pairs];
        for (int t = 0; t < tokens; t++) {
            for (int p = 0; p < pairs; p++) {
                float angle = ids[t * axes + axisOf[p]] * omega[p];
                cos[t * pairs + p] = (float) Math.cos(angle);
                sin[t * pairs + p] = (float) Math.sin(angle);
            }
        }
        return new Angles(cos, sin, pairs);
    }

    /** Rotates q or k [tokens, heads * headDim] in place. */
    static void apply(float[] x, int tokens, int heads, Angles a) {
        FluxKernels.rope(x, tokens, heads, a.pairs(), a.cos(), a.sin());
    }
}
