package fluxj.image;

/**
 * VP8L's colour transform (RFC 9649, 4.2): per tile, red less a multiple of green and blue less multiples of green
 * and red, the multipliers (3.5 fixed point) fitted by least squares to the tile's signed values, kept only where
 * they lower the tile's sum of absolute values (a cheap stand-in for its entropy).
 */
final class CrossColour {
    private CrossColour() {}

    /** ColorTransformDelta: the signed product of a multiplier and a channel value, over 32. */
    static int delta(int t, int c) {
        return ((byte) t * (byte) c) >> 5;
    }

    /** The forward transform of one pixel by the element (green_to_red, green_to_blue, red_to_blue). */
    static int forward(int argb, int g2r, int g2b, int r2b) {
        int r = argb >>> 16 & 0xff, g = argb >>> 8 & 0xff, b = argb & 0xff;
        int nr = r - delta(g2r, g) & 0xff, nb = b - delta(g2b, g) - delta(r2b, r) & 0xff;
        return argb & 0xff00ff00 | nr << 16 | nb;
    }

    /**
     * Transforms {@code a} (w x h) in place, tile by tile of 2^tileBits a side, and returns the transform's image:
     * per tile a pixel of alpha 255, red red_to_blue, green green_to_blue, blue green_to_red.
     */
    static int[] apply(int[] a, int w, int h, int tileBits) {
        int tile = 1 << tileBits, tilesX = (w + tile - 1) >> tileBits, tilesY = (h + tile - 1) >> tileBits;
        int[] elements = new int[tilesX * tilesY];
        for (int ty = 0; ty < tilesY; ty++) {
            for (int tx = 0; tx < tilesX; tx++) {
                int x0 = tx * tile, y0 = ty * tile, x1 = Math.min(w, x0 + tile), y1 = Math.min(h, y0 + tile);
                double gg = 0, rg = 0, rr = 0, bg = 0, br = 0;
                for (int y = y0; y < y1; y++) {
                    for (int x = x0; x < x1; x++) {
                        int p = a[y * w + x];
                        int r = (byte) (p >>> 16), g = (byte) (p >>> 8), b = (byte) p;
                        gg += g * g;
                        rg += r * g;
                        rr += r * r;
                        bg += b * g;
                        br += b * r;
                    }
                }
                int g2r = gg == 0 ? 0 : fixed(rg / gg);
                // blue on green and red: the 2x2 normal equations
                double det = gg * rr - rg * rg;
                int g2b = 0, r2b = 0;
                if (Math.abs(det) > 1e-9) {
                    g2b = fixed((bg * rr - br * rg) / det);
                    r2b = fixed((br * gg - bg * rg) / det);
                }
                if (cost(a, w, x0, y0, x1, y1, g2r, g2b, r2b) >= cost(a, w, x0, y0, x1, y1, 0, 0, 0)) g2r = g2b = r2b = 0;
                elements[ty * tilesX + tx] = 0xff000000 | (r2b & 0xff) << 16 | (g2b & 0xff) << 8 | (g2r & 0xff);
                for (int y = y0; y < y1; y++) for (int x = x0; x < x1; x++) a[y * w + x] = forward(a[y * w + x], g2r, g2b, r2b);
            }
        }
        return elements;
    }

    private static int fixed(double m) {
        return (int) Math.clamp(Math.round(32 * m), -128, 127);
    }

    private static long cost(int[] a, int w, int x0, int y0, int x1, int y1, int g2r, int g2b, int r2b) {
        long c = 0;
        for (int y = y0; y < y1; y++) {
            for (int x = x0; x < x1; x++) {
                int p = forward(a[y * w + x], g2r, g2b, r2b);
                c += Math.abs((byte) (p >>> 16)) + Math.abs((byte) p);
            }
        }
        return c;
    }
}
