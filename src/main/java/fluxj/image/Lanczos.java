package fluxj.image;

/**
 * Pillow's {@code Image.resize(size, Image.LANCZOS)} on 8-bit images, value for value (its {@code Resample.c}):
 * separable, horizontal pass first then vertical, each output sample a window of a 3-lobe Lanczos kernel widened
 * by the downscale factor, the weights normalised to sum 1 in double, then fixed-point with 22 fraction bits, and
 * every pass rounded and clipped to 8 bits.
 */
public final class Lanczos {
    private static final double SUPPORT = 3.0;
    private static final int PRECISION_BITS = 32 - 8 - 2;

    private Lanczos() {}

    /** Interleaved 8-bit samples ({@code bands} per pixel, row-major) from {@code w x h} to {@code outW x outH}. */
    public static byte[] resize(byte[] src, int w, int h, int bands, int outW, int outH) {
        if (src.length != w * h * bands) throw new IllegalArgumentException("resize: " + src.length + " bytes are not " + w + "x" + h + "x" + bands);
        if (outW < 1 || outH < 1) throw new IllegalArgumentException("resize: target " + outW + "x" + outH + " is empty");
        Coefficients vert = Coefficients.of(h, outH);
        byte[] img = src;
        int width = w;
        // The vertical window reads rows first..last only: the horizontal pass resizes just those.
        int first = vert.min[0], last = vert.min[outH - 1] + vert.len[outH - 1];
        if (outW != w) {
            Coefficients horiz = Coefficients.of(w, outW);
            img = horizontal(src, w, first, last, bands, horiz, outW);
            width = outW;
            for (int i = 0; i < outH; i++) vert.min[i] -= first;
        }
        if (outH != h) img = vertical(img, width, bands, vert, outH);
        return img == src ? src.clone() : img;
    }

    private static byte[] horizontal(byte[] src, int w, int first, int last, int bands, Coefficients c, int outW) {
        byte[] out = new byte[outW * (last - first) * bands];
        for (int y = first; y < last; y++) {
            int row = y * w * bands, outRow = (y - first) * outW * bands;
            for (int x = 0; x < outW; x++) {
                int min = c.min[x], len = c.len[x], k = x * c.size;
                for (int b = 0; b < bands; b++) {
                    int ss = 1 << (PRECISION_BITS - 1);
                    for (int i = 0; i < len; i++) ss += (src[row + (min + i) * bands + b] & 0xff) * c.fixed[k + i];
                    out[outRow + x * bands + b] = clip8(ss);
                }
            }
        }
        return out;
    }

    private static byte[] vertical(byte[] src, int w, int bands, Coefficients c, int outH) {
        byte[] out = new byte[w * outH * bands];
        int stride = w * bands;
        for (int y = 0; y < outH; y++) {
            int min = c.min[y], len = c.len[y], k = y * c.size;
            for (int s = 0; s < stride; s++) {
                int ss = 1 << (PRECISION_BITS - 1);
                for (int i = 0; i < len; i++) ss += (src[(min + i) * stride + s] & 0xff) * c.fixed[k + i];
                out[y * stride + s] = clip8(ss);
            }
        }
        return out;
    }

    /** The fixed-point sum to 8 bits: floor division by 2^22, clipped to [0, 255]. */
    private static byte clip8(int ss) {
        return (byte) Math.clamp(ss >> PRECISION_BITS, 0, 255);
    }

    static double lanczos(double x) {
        return -SUPPORT <= x && x < SUPPORT ? sinc(x) * sinc(x / 3) : 0.0;
    }

    private static double sinc(double x) {
        if (x == 0.0) return 1.0;
        x = x * Math.PI;
        return Math.sin(x) / x;
    }

    /** Per output sample: the first input sample of its window, the window's length, and its fixed-point weights. */
    private record Coefficients(int[] min, int[] len, int[] fixed, int size) {
        static Coefficients of(int inSize, int outSize) {
            double scale = (double) inSize / outSize, filterScale = Math.max(scale, 1.0);
            double support = SUPPORT * filterScale;
            int size = (int) Math.ceil(support) * 2 + 1;
            int[] min = new int[outSize], len = new int[outSize], fixed = new int[outSize * size];
            double[] k = new double[size];
            for (int xx = 0; xx < outSize; xx++) {
                double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterScale;
                int xmin = Math.max((int) (center - support + 0.5), 0);
                int xmax = Math.min((int) (center + support + 0.5), inSize) - xmin;
                for (int x = 0; x < xmax; x++) {
                    k[x] = lanczos((x + xmin - center + 0.5) * ss);
                    ww += k[x];
                }
                for (int x = 0; x < xmax; x++) {
                    double v = ww != 0.0 ? k[x] / ww : k[x];
                    fixed[xx * size + x] = (int) (v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
                }
                min[xx] = xmin;
                len[xx] = xmax;
            }
            return new Coefficients(min, len, fixed, size);
        }
    }
}
