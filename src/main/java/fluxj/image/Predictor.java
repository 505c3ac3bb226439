package fluxj.image;

/**
 * VP8L's predictor transform (RFC 9649, 4.1): each pixel minus a prediction from its decoded neighbours, per
 * 8-bit channel modulo 256, with one of 14 modes per tile; the first row predicts from the left, the first column
 * from above, the first pixel from opaque black.
 */
final class Predictor {
    static final int MODES = 14;

    private Predictor() {}

    /**
     * The residuals of {@code argb} (w x h), with the mode of least absolute residual chosen per tile of
     * 2^tileBits pixels a side and stored in {@code modes} (row-major tiles).
     */
    static int[] residuals(int[] argb, int w, int h, int tileBits, int[] modes) {
        int tile = 1 << tileBits, tilesX = (w + tile - 1) >> tileBits;
        int[] out = new int[argb.length];
        for (int ty = 0; ty * tile < h; ty++) {
            for (int tx = 0; tx * tile < w; tx++) {
                int x0 = tx * tile, y0 = ty * tile, x1 = Math.min(w, x0 + tile), y1 = Math.min(h, y0 + tile);
                int best = 0;
                long bestCost = Long.MAX_VALUE;
                for (int mode = 0; mode < MODES; mode++) {
                    long cost = 0;
                    for (int y = y0; y < y1; y++) {
                        for (int x = x0; x < x1; x++) cost += cost(subtract(argb[y * w + x], predict(argb, w, x, y, mode)));
                    }
                    if (cost < bestCost) {
                        bestCost = cost;
                        best = mode;
                    }
                }
                modes[ty * tilesX + tx] = best;
                for (int y = y0; y < y1; y++) {
                    for (int x = x0; x < x1; x++) out[y * w + x] = subtract(argb[y * w + x], predict(argb, w, x, y, best));
                }
            }
        }
        return out;
    }

    /** The prediction of pixel (x, y), border rules included; TR of the last column is the row's first pixel. */
    static int predict(int[] argb, int w, int x, int y, int mode) {
        if (y == 0) return x == 0 ? 0xff000000 : argb[x - 1];
        int i = y * w + x;
        if (x == 0) return argb[i - w];
        int l = argb[i - 1], t = argb[i - w], tl = argb[i - w - 1], tr = argb[i - w + 1];
        return switch (mode) {
            case 0 -> 0xff000000;
            case 1 -> l;
            case 2 -> t;
            case 3 -> tr;
            case 4 -> tl;
            case 5 -> average(average(l, tr), t);
            case 6 -> average(l, tl);
            case 7 -> average(l, t);
            case 8 -> average(tl, t);
            case 9 -> average(t, tr);
            case 10 -> average(average(l, tl), average(t, tr));
            case 11 -> select(l, t, tl);
            case 12 -> clampedGradient(l, t, tl);
            case 13 -> clampedHalfGradient(average(l, t), tl);
            default -> throw new IllegalArgumentException("predictor mode " + mode);
        };
    }

    /** Per channel, the floor of the mean. */
    static int average(int a, int b) {
        return (((a ^ b) & 0xfefefefe) >>> 1) + (a & b);
    }

    /** Left or top, whichever the gradient estimate L + T - TL is nearer to (Manhattan distance over channels). */
    static int select(int l, int t, int tl) {
        int toL = 0, toT = 0;
        for (int s = 0; s < 32; s += 8) {
            int cl = l >>> s & 0xff, ct = t >>> s & 0xff, ctl = tl >>> s & 0xff;
            toL += Math.abs(ct - ctl); // |estimate - L|
            toT += Math.abs(cl - ctl); // |estimate - T|
        }
        return toL < toT ? l : t;
    }

    static int clampedGradient(int a, int b, int c) {
        int r = 0;
        for (int s = 0; s < 32; s += 8) r |= Math.clamp((a >>> s & 0xff) + (b >>> s & 0xff) - (c >>> s & 0xff), 0, 255) << s;
        return r;
    }

    static int clampedHalfGradient(int a, int b) {
        int r = 0;
        for (int s = 0; s < 32; s += 8) {
            int ca = a >>> s & 0xff, cb = b >>> s & 0xff;
            r |= Math.clamp(ca + (ca - cb) / 2, 0, 255) << s;
        }
        return r;
    }

    static int subtract(int a, int b) {
        int r = 0;
        for (int s = 0; s < 32; s += 8) r |= ((a >>> s) - (b >>> s) & 0xff) << s;
        return r;
    }

    /** How far a residual is from zero, per channel modulo 256. */
    private static int cost(int residual) {
        int c = 0;
        for (int s = 0; s < 32; s += 8) {
            int v = residual >>> s & 0xff;
            c += Math.min(v, 256 - v);
        }
        return c;
    }
}
