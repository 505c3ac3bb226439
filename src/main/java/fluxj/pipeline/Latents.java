package fluxj.pipeline;

import fluxj.sampling.TorchGenerator;

/**
 * Latent layout helpers: the initial noise, 2x2 patch packing {@code c (h 2) (w 2) -> (h w) (c 2 2)} and back, and
 * the position ids the transformer's rotary embedding reads.
 */
public final class Latents {
    private Latents() {}

    /** {@code torch.randn((1, c, H/8, W/8), generator=manual_seed(seed))} for a size that is a multiple of 16. */
    public static float[] noise(long seed, int channels, int height, int width) {
        return new TorchGenerator(seed).randn(channels * (height / 8) * (width / 8));
    }

    /** [c, 2h, 2w] -> [h*w, c*4]: each token holds one 2x2 patch of every channel, channel-major. */
    public static float[] pack(float[] x, int c, int h, int w) {
        float[] out = new float[x.length];
        int w2 = 2 * w;
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                int tok = (i * w + j) * c * 4;
                for (int ch = 0; ch < c; ch++) {
                    int src = ch * (2 * h) * w2 + (2 * i) * w2 + 2 * j;
                    int dst = tok + ch * 4;
                    out[dst] = x[src];
                    out[dst + 1] = x[src + 1];
                    out[dst + 2] = x[src + w2];
                    out[dst + 3] = x[src + w2 + 1];
                }
            }
        }
        return out;
    }

    /** The inverse of {@link #pack}: [h*w, c*4] -> [c, 2h, 2w]. */
    public static float[] unpack(float[] p, int c, int h, int w) {
        float[] out = new float[p.length];
        int w2 = 2 * w;
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                int tok = (i * w + j) * c * 4;
                for (int ch = 0; ch < c; ch++) {
                    int dst = ch * (2 * h) * w2 + (2 * i) * w2 + 2 * j;
                    int src = tok + ch * 4;
                    out[dst] = p[src];
                    out[dst + 1] = p[src + 1];
                    out[dst + w2] = p[src + 2];
                    out[dst + w2 + 1] = p[src + 3];
                }
            }
        }
        return out;
    }

    /** Image token ids (0, row, col) for an h x w token grid, [h*w, 3]. */
    public static float[] imageIds(int h, int w) {
        float[] ids = new float[h * w * 3];
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                ids[(i * w + j) * 3 + 1] = i;
                ids[(i * w + j) * 3 + 2] = j;
            }
        }
        return ids;
    }

    /** Text token ids: all zeros, [len, 3]. */
    public static float[] textIds(int len) {
        return new float[len * 3];
    }
}
