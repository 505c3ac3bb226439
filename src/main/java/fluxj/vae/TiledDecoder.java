package fluxj.vae;

import fluxj.tensor.ChannelsLast;
import fluxj.tensor.Parallel;

/**
 * Decodes a latent in overlapping tiles and blends them. With {@code wholeTrunk}, the decoder's lowest-resolution
 * trunk (conv_in, the mid attention, the lowest level's ResNets: 1/f^2 of the pixels, a few percent of the work)
 * runs once on the whole latent, so the attention sees every pixel as in an untiled decode, and only the
 * upsampling levels, which hold nearly all the activations and arithmetic, run per tile of the trunk's output.
 * Without it (when even the trunk would not fit the memory budget) every tile runs the whole decoder on its part
 * of the latent, attention included, and memory is bounded by the tile alone. Each tile's pixels are weighted
 * by a linear ramp rising from ~0 at an edge shared with a neighbour to 1 past the overlap, and the sum is
 * divided by the summed weights: the result is continuous across tiles (no seam) and the zero-padded tile
 * borders count for little. Within a tile, GroupNorm statistics are the tile's own: the remaining difference
 * to an untiled decode.
 */
public record TiledDecoder(Decoder decoder, int tile, int overlap, boolean wholeTrunk) {

    public TiledDecoder {
        if (tile < 1 || overlap < 0 || overlap >= tile) throw new IllegalArgumentException("tiling: tile " + tile + " with overlap " + overlap);
    }

    /** z [zc, h, w] in the decoder's scale -> image [out, f*h, f*w]. */
    public float[] decode(float[] z, int h, int w) {
        VaeConfig c = decoder.config();
        int f = c.factor(), outC = c.outChannels(), H = h * f, W = w * f;
        float[] latent = ChannelsLast.transpose(z, c.zChannels(), h * w);
        float[] features = wholeTrunk ? decoder.trunk(latent, h, w) : latent;
        int fc = wholeTrunk ? decoder.trunkChannels() : c.zChannels();
        float[] sum = new float[outC * H * W], weight = new float[H * W];
        int[] ys = starts(h), xs = starts(w);
        int th = span(h), tw = span(w);
        for (int ty : ys) {
            for (int tx : xs) {
                float[] window = crop(features, fc, w, ty, tx, th, tw);
                float[] part = wholeTrunk ? decoder.upper(window, th, tw) : decoder.decodeChannelsLast(window, th, tw);
                float[] wy = ramp(ty, th, h, f), wx = ramp(tx, tw, w, f);
                int ph = th * f, pw = tw * f, y0 = ty * f, x0 = tx * f;
                Parallel.forEach(ph, y -> {
                    for (int x = 0; x < pw; x++) {
                        float wt = wy[y] * wx[x];
                        int o = (y0 + y) * W + x0 + x, p = (y * pw + x) * outC;
                        weight[o] += wt;
                        for (int ch = 0; ch < outC; ch++) sum[ch * H * W + o] += wt * part[p + ch];
                    }
                });
            }
        }
        for (int ch = 0; ch < outC; ch++) {
            for (int i = 0; i < H * W; i++) sum[ch * H * W + i] /= weight[i];
        }
        return sum;
    }

    /**
     * Tile length along a side of n latent pixels: the fewest tiles of at most {@code tile} that overlap by at
     * least {@code overlap}, made equal (a 128 side with 64/8 tiles takes three of 48, not 64 + 64 + 64).
     */
    int span(int n) {
        if (n <= tile) return n;
        int count = Math.ceilDiv(n - overlap, tile - overlap);
        return Math.ceilDiv(n + (count - 1) * overlap, count);
    }

    /** Tile origins along a side of n latent pixels, evenly spread, the first at 0 and the last flush with n. */
    int[] starts(int n) {
        int size = span(n);
        if (size == n) return new int[]{0};
        int count = Math.ceilDiv(n - overlap, tile - overlap);
        int[] s = new int[count];
        for (int i = 0; i < count; i++) s[i] = (int) ((long) i * (n - size) / (count - 1));
        return s;
    }

    /**
     * Blend weights of the f*size pixels of a tile at latent offset {@code start}: a ramp over the f*overlap
     * pixels next to each edge that has a neighbouring tile, 1 elsewhere.
     */
    private float[] ramp(int start, int size, int n, int f) {
        int len = size * f;
        float rampLen = overlap * f;
        float[] r = new float[len];
        for (int i = 0; i < len; i++) {
            float v = 1f;
            if (rampLen > 0 && start > 0) v = Math.min(v, (i + 0.5f) / rampLen);
            if (rampLen > 0 && start + size < n) v = Math.min(v, (len - i - 0.5f) / rampLen);
            r[i] = v;
        }
        return r;
    }

    /** The channels-last [th*tw, channels] window at (y0, x0) of x [h*w, channels]. */
    private static float[] crop(float[] x, int channels, int w, int y0, int x0, int th, int tw) {
        float[] t = new float[channels * th * tw];
        for (int y = 0; y < th; y++) System.arraycopy(x, ((y0 + y) * w + x0) * channels, t, y * tw * channels, tw * channels);
        return t;
    }

    /**
     * Multiply-adds x 2 this decode performs on an h x w latent (see {@link Decoder#flops}): the trunk once on the
     * whole latent (with {@code wholeTrunk}) and the rest once per tile, so the overlaps count as often as they are
     * decoded. Without {@code wholeTrunk} each tile's attention sees only its own pixels, a smaller quadratic
     * term, so for large latents the total could fall below the untiled decode's.
     */
    public double flops(int h, int w) {
        int th = span(h), tw = span(w);
        long tiles = (long) starts(h).length * starts(w).length;
        return wholeTrunk ? decoder.trunkFlops(h, w) + tiles * decoder.upperFlops(th, tw) : tiles * decoder.flops(th, tw);
    }

    /** The convolutions this decode runs on an h x w latent with their input sizes, each tile size once. */
    void convs(int h, int w, Decoder.ConvUse use) {
        int th = span(h), tw = span(w);
        if (wholeTrunk) decoder.trunkConvs(h, w, use);
        else decoder.trunkConvs(th, tw, use);
        decoder.upperConvs(th, tw, use);
    }

    /**
     * Peak bytes of a tiled decode of an h x w latent. With the whole trunk: the larger of the trunk on the whole
     * latent and one tile's upper levels plus what lives throughout (trunk features, blended output and
     * weights); else one tile's whole decode plus the latent (in both layouts) and the output.
     */
    public long peakBytes(int h, int w) {
        VaeConfig c = decoder.config();
        long pixels = (long) h * w * c.factor() * c.factor(), output = (c.outChannels() + 1L) * pixels * 4;
        if (!wholeTrunk) return 2L * c.zChannels() * h * w * 4 + output + decoder.activationBytes(span(h), span(w));
        long held = (long) decoder.trunkChannels() * h * w * 4 + output;
        return Math.max(decoder.trunkBytes(h, w), held + decoder.upperBytes(span(h), span(w)));
    }
}
