package fluxj.vae;

import fluxj.tensor.Parallel;

/**
 * Decodes a latent in overlapping square tiles and blends them: each tile's pixels are weighted by a linear ramp
 * that rises from ~0 at a tile edge shared with a neighbour to 1 after the overlap, and the sum is divided by
 * the summed weights, so the result is continuous across tiles (no seam) and the zero-padded tile borders count
 * for little. Peak memory is one tile's activations plus the output image.
 */
public record TiledDecoder(Decoder decoder, int tile, int overlap) {

    public TiledDecoder {
        if (tile < 1 || overlap < 0 || overlap >= tile) throw new IllegalArgumentException("tiling: tile " + tile + " with overlap " + overlap);
    }

    /** z [zc, h, w] in the decoder's scale -> image [out, f*h, f*w]. */
    public float[] decode(float[] z, int h, int w) {
        VaeConfig c = decoder.config();
        int zc = c.zChannels(), f = c.factor(), outC = c.outChannels(), H = h * f, W = w * f;
        float[] sum = new float[outC * H * W], weight = new float[H * W];
        int[] ys = starts(h), xs = starts(w);
        int th = Math.min(tile, h), tw = Math.min(tile, w);
        for (int ty : ys) {
            for (int tx : xs) {
                float[] part = decoder.decode(crop(z, zc, h, w, ty, tx, th, tw), th, tw);
                float[] wy = ramp(ty, th, h, f), wx = ramp(tx, tw, w, f);
                int ph = th * f, pw = tw * f, y0 = ty * f, x0 = tx * f;
                Parallel.forEach(ph, y -> {
                    for (int x = 0; x < pw; x++) {
                        float wt = wy[y] * wx[x];
                        int o = (y0 + y) * W + x0 + x;
                        weight[o] += wt;
                        for (int ch = 0; ch < outC; ch++) sum[ch * H * W + o] += wt * part[(ch * ph + y) * pw + x];
                    }
                });
            }
        }
        for (int ch = 0; ch < outC; ch++) {
            for (int i = 0; i < H * W; i++) sum[ch * H * W + i] /= weight[i];
        }
        return sum;
    }

    /** Tile origins along a side of n latent pixels: stride tile - overlap, the last tile flush with the end. */
    int[] starts(int n) {
        if (n <= tile) return new int[]{0};
        int stride = tile - overlap, count = (n - tile + stride - 1) / stride + 1;
        int[] s = new int[count];
        for (int i = 0; i < count; i++) s[i] = Math.min(i * stride, n - tile);
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

    private static float[] crop(float[] z, int zc, int h, int w, int y0, int x0, int th, int tw) {
        float[] t = new float[zc * th * tw];
        for (int c = 0; c < zc; c++) {
            for (int y = 0; y < th; y++) System.arraycopy(z, (c * h + y0 + y) * w + x0, t, (c * th + y) * tw, tw);
        }
        return t;
    }

    /** Peak bytes of a tiled decode of an h x w latent: one tile's activations plus the blended output. */
    public long peakBytes(int h, int w) {
        VaeConfig c = decoder.config();
        long pixels = (long) h * w * c.factor() * c.factor();
        return decoder.activationBytes(Math.min(tile, h), Math.min(tile, w)) + (c.outChannels() + 1L) * pixels * 4;
    }
}
