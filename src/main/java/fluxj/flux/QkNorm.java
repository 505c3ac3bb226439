package fluxj.flux;

import fluxj.tensor.Ops;

/** BFL QKNorm: RMSNorm (eps 1e-6, learned scale, in f32) of every head of q and of k. */
record QkNorm(float[] queryScale, float[] keyScale) {
    static final float EPS = 1e-6f;

    static QkNorm load(Weights w, String prefix, int headDim) {
        return new QkNorm(w.vector(prefix + "query_norm.scale", headDim), w.vector(prefix + "key_norm.scale", headDim));
    }

    /** Normalises q and k [tokens, heads * headDim] in place. */
    void apply(float[] q, float[] k, int tokens, int heads) {
        int d = queryScale.length;
        Ops.rmsNorm(q, tokens * heads, d, queryScale, EPS, q);
        Ops.rmsNorm(k, tokens * heads, d, keyScale, EPS, k);
    }
}
