package fluxj.flux;

import fluxj.tensor.Ops;

/** The conditioning vector's parts: sinusoidal embeddings of t and guidance, and BFL's MLPEmbedder. */
final class Embeddings {
    /** Width of the sinusoidal embedding fed to time_in / guidance_in. */
    static final int TIME_DIM = 256;

    private Embeddings() {}

    /**
     * BFL timestep_embedding(t, 256) with time_factor 1000 and max_period 10000: [cos(t*1000*f_i), sin(...)],
     * f_i = exp(-ln(10000) i / 128), every step rounded to f32 as torch computes it.
     */
    static float[] timestep(float t) {
        int half = TIME_DIM / 2;
        float scaled = 1000f * t;
        float logPeriod = (float) -Math.log(10000);
        float[] out = new float[TIME_DIM];
        for (int i = 0; i < half; i++) {
            float freq = (float) Math.exp(logPeriod * i / half);
            float arg = scaled * freq;
            out[i] = (float) Math.cos(arg);
            out[half + i] = (float) Math.sin(arg);
        }
        return out;
    }

    /** in_layer, SiLU, out_layer. */
    record MlpEmbedder(Linear in, Linear out) {
        float[] apply(float[] x) {
            float[] h = in.apply(x, 1);
            Ops.silu(h, h.length);
            return out.apply(h, 1);
        }
    }
}
