package fluxj.image;

import fluxj.pipeline.RgbImage;
import fluxj.testing.Pillow;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Lossless WebP: libwebp (through Pillow) decodes every file to exactly the pixels written. */
class WebpLosslessTest {
    @TempDir
    Path dir;

    /** Decodes every .webp in the folder with Pillow and writes its RGB bytes beside it. */
    private static final String DECODE = """
            import sys, os
            from PIL import Image
            d = sys.argv[1]
            for f in sorted(os.listdir(d)):
                if f.endswith('.webp'):
                    im = Image.open(os.path.join(d, f))
                    assert im.format == 'WEBP', f
                    open(os.path.join(d, f[:-5] + '.rgb'), 'wb').write(im.convert('RGB').tobytes())
            """;

    @Test
    void libwebpDecodesExactlyThePixelsWritten() throws Exception {
        SplittableRandom rnd = new SplittableRandom(3);
        Map<String, RgbImage> images = new LinkedHashMap<>();
        images.put("one", image(1, 1, (x, y, c) -> 200));
        images.put("row", image(7, 1, (x, y, c) -> x * 30 + c));
        images.put("column", image(1, 9, (x, y, c) -> y * 20 + c * 7));
        images.put("flat", image(40, 24, (x, y, c) -> c == 1 ? 128 : 90));
        images.put("two-colours", image(33, 17, (x, y, c) -> (x + y) % 2 == 0 ? 255 : 0));
        images.put("noise", image(37, 29, (x, y, c) -> rnd.nextInt(256)));
        images.put("gradient", image(300, 200, (x, y, c) -> (x * (c + 1) + y * (3 - c)) / 3 & 0xff));
        images.put("texture", image(129, 66, (x, y, c) -> (int) (127.5 + 100 * Math.sin(x * 0.3 + c) * Math.cos(y * 0.17)) + rnd.nextInt(8)));
        for (var e : images.entrySet()) Files.write(dir.resolve(e.getKey() + ".webp"), WebpLossless.encode(e.getValue()));
        Pillow.run(DECODE, dir);
        for (var e : images.entrySet()) {
            assertArrayEquals(e.getValue().rgb(), Files.readAllBytes(dir.resolve(e.getKey() + ".rgb")), e.getKey());
        }
        // predictable content is stored well below its raw 3 bytes a pixel (literal codes cost at least a bit per
        // channel that takes more than one value, so about 3/8 of a byte a pixel is this encoder's floor); noise is not
        long gradient = Files.size(dir.resolve("gradient.webp")), noise = Files.size(dir.resolve("noise.webp"));
        assertTrue(gradient < 300 * 200 * 3 / 4, "gradient: " + gradient + " bytes");
        assertTrue(noise > 37 * 29 * 3 * 9 / 10, "noise: " + noise + " bytes");
    }

    /**
     * What LZ77 and the colour cache meet: runs longer than the longest copy (4096), a row repeated (distance =
     * width, a neighbourhood code), a tile repeated far back (distances beyond the 120 neighbourhood codes), images
     * of width 1 to 3 (where neighbourhood codes alias or clamp to 1), few colours in random order (cache hits),
     * black first pixels (a hit in the initial all-zero cache), and repeats just inside and just outside the
     * largest distance a code reaches (2^20 - 120 pixels).
     */
    @Test
    void backReferencesAndTheColourCacheDecodeExactly() throws Exception {
        SplittableRandom rnd = new SplittableRandom(11);
        int[][] palette = new int[24][3];
        for (int[] c : palette) for (int k = 0; k < 3; k++) c[k] = rnd.nextInt(256);
        int[][] tile = new int[16 * 16][3];
        for (int[] c : tile) for (int k = 0; k < 3; k++) c[k] = rnd.nextInt(256);
        int[][] row = new int[1024][3];
        for (int[] c : row) for (int k = 0; k < 3; k++) c[k] = rnd.nextInt(256);
        Map<String, RgbImage> images = new LinkedHashMap<>();
        images.put("black-pixel", image(1, 1, (x, y, c) -> 0));
        images.put("black", image(100, 90, (x, y, c) -> 0));
        images.put("long-run", image(5000, 3, (x, y, c) -> x < 4500 ? 77 : 200));
        images.put("one-wide", image(1, 300, (x, y, c) -> (y / 7) % 3 == 0 ? 10 * c : 250 - y % 5));
        images.put("two-wide", image(2, 150, (x, y, c) -> (y % 9) * 20 + x * c));
        images.put("three-wide-noise", image(3, 80, (x, y, c) -> y % 10 < 5 ? rnd.nextInt(256) : 128));
        images.put("rows-repeat", image(257, 40, (x, y, c) -> row[x][c]));
        images.put("tiles-repeat", image(320, 200, (x, y, c) -> tile[(y % 16) * 16 + x % 16][c]));
        images.put("wide-tiles", image(700, 60, (x, y, c) -> tile[(y % 16) * 16 + (x / 3) % 16][c] ^ (x / 350)));
        images.put("palette", image(200, 150, (x, y, c) -> palette[rnd.nextInt(palette.length)][c]));
        images.put("noise", image(131, 97, (x, y, c) -> rnd.nextInt(256)));
        // channels that move together: the colour transform's multipliers are not zero here
        images.put("correlated", image(97, 70, (x, y, c) -> {
            int g = (int) (128 + 90 * Math.sin(x * 0.21 + y * 0.05)) + rnd.nextInt(5);
            return c == 0 ? g / 2 + 40 : c == 1 ? g : 255 - g;
        }));
        images.put("noisy-stripes", image(150, 120, (x, y, c) -> x % 40 < 20 ? 30 + (x + y) % 3 : rnd.nextInt(256)));
        // over 2^20 pixels: flat runs copied 4096 pixels at a time, and a row repeated beyond the farthest distance
        images.put("million", image(1024, 1025, (x, y, c) -> y == 0 || y == 1024 ? row[x][c] : 60));
        for (var e : images.entrySet()) Files.write(dir.resolve(e.getKey() + ".webp"), WebpLossless.encode(e.getValue()));
        Pillow.run(DECODE, dir);
        for (var e : images.entrySet()) {
            assertArrayEquals(e.getValue().rgb(), Files.readAllBytes(dir.resolve(e.getKey() + ".rgb")), e.getKey());
        }
        // a repeated 16x16 noise tile costs about one tile (768 raw bytes) plus copies, not 320x200 noisy pixels
        long tiles = Files.size(dir.resolve("tiles-repeat.webp"));
        assertTrue(tiles < 4000, "tiles-repeat: " + tiles + " bytes");
    }

    /** LZ77 prefix coding (RFC 9649, 5.2.2): the decoder's formula gives back every value from 1 to 2^20. */
    @Test
    void prefixCodesRoundTrip() {
        for (int v = 1; v <= 1 << 20; v++) {
            int p = Backrefs.prefix(v), extra = Backrefs.extraBits(p), bits = Backrefs.extraValue(v, p);
            assertTrue(p < 40 && bits >= 0 && bits < 1 << extra, "value " + v);
            int decoded = p < 4 ? p + 1 : ((2 + (p & 1)) << extra) + bits + 1;
            assertEquals(v, decoded, "value " + v);
        }
        assertEquals(23, Backrefs.prefix(Backrefs.MAX_LENGTH), "the longest copy has the last length prefix");
    }

    /** Neighbourhood codes of the specification's table, and the clamp to 1 of narrow images. */
    @Test
    void distanceCodesFollowTheNeighbourhoodTable() {
        Backrefs.DistanceCodes wide = new Backrefs.DistanceCodes(300);
        assertEquals(1, wide.code(300), "above");
        assertEquals(2, wide.code(1), "left");
        assertEquals(3, wide.code(301), "above left");
        assertEquals(4, wide.code(299), "above right");
        assertEquals(120, wide.code(7 * 300 + 8), "(8, 7): 7 rows up, 8 left");
        assertEquals(9 + 120, wide.code(9), "9 left is outside the neighbourhood");
        assertEquals(1, new Backrefs.DistanceCodes(1).code(1), "width 1: above is the previous pixel");
        assertEquals(2, new Backrefs.DistanceCodes(3).code(1), "width 3: above right would be 2 back; left is code 2");
    }

    @Test
    void theParseCopiesRepeatsWithinTheFarthestDistance() {
        SplittableRandom rnd = new SplittableRandom(5);
        int[] periodic = new int[4000];
        for (int i = 0; i < periodic.length; i++) periodic[i] = i < 50 ? rnd.nextInt() : periodic[i - 50];
        Backrefs.Tokens t = Backrefs.parse(periodic, 100);
        assertTrue(t.count() < 60, "50 literals and a copy or two, got " + t.count() + " tokens");
        // a noise run repeated exactly as far back as a distance code reaches is copied; one pixel farther, not
        for (int gap : new int[] {Backrefs.MAX_DISTANCE, Backrefs.MAX_DISTANCE + 1}) {
            int[] a = new int[gap + 64];
            for (int i = 0; i < 64; i++) a[i] = a[gap + i] = rnd.nextInt();
            for (int i = 64; i < gap; i++) a[i] = 0x01000000 | i; // distinct pixels: nothing else to copy
            Backrefs.Tokens far = Backrefs.parse(a, 1024);
            int copied = 0;
            for (int k = 0; k < far.count(); k++) {
                if (far.length()[k] > 0) {
                    assertTrue(far.value()[k] <= Backrefs.MAX_DISTANCE, "distance " + far.value()[k]);
                    copied += far.length()[k];
                }
            }
            assertEquals(gap == Backrefs.MAX_DISTANCE ? 64 : 0, copied, "gap " + gap);
        }
    }

    @Test
    void theCacheTakesRecurringColours() {
        SplittableRandom rnd = new SplittableRandom(6);
        int[] colours = {0x10203040, 0x7f00ff00, 0x00ff00ff, 0x12345678, 0x0badcafe};
        int n = 5000;
        int[] few = new int[n];
        for (int i = 0; i < n; i++) few[i] = colours[rnd.nextInt(colours.length)];
        Backrefs.Tokens literals = new Backrefs.Tokens(new int[n], few.clone(), n);
        int bits = Backrefs.chooseCacheBits(literals, few);
        assertTrue(bits > 0, "five colours in random order: a cache pays");
        Backrefs.useCache(literals, few, bits);
        long left = java.util.stream.IntStream.range(0, n).filter(k -> literals.length()[k] == 0).count();
        assertTrue(left < n / 100, left + " of " + n + " pixels stay literals");
        for (int k = 0; k < n; k++) {
            if (literals.length()[k] < 0) assertEquals(Backrefs.cacheIndex(few[k], bits), literals.value()[k], "hit " + k);
        }
        int[] noise = rnd.ints(n).toArray();
        assertEquals(0, Backrefs.chooseCacheBits(new Backrefs.Tokens(new int[n], noise.clone(), n), noise), "noise: no cache");
    }

    /** The colour transform (RFC 9649, 4.2): the decoder's inverse, written from the specification, undoes it. */
    @Test
    void colourTransformIsUndoneByTheSpecificationsInverse() {
        SplittableRandom rnd = new SplittableRandom(9);
        for (int i = 0; i < 100_000; i++) {
            int p = rnd.nextInt(), g2r = rnd.nextInt(256), g2b = rnd.nextInt(256), r2b = rnd.nextInt(256);
            int t = CrossColour.forward(p, g2r, g2b, r2b);
            int g = t >>> 8 & 0xff, red = (t >>> 16) + CrossColour.delta(g2r, g) & 0xff;
            int blue = t + CrossColour.delta(g2b, g) + CrossColour.delta(r2b, red) & 0xff;
            assertEquals(p, t & 0xff00ff00 | red << 16 | blue, "pixel " + Integer.toHexString(p));
        }
        assertEquals(4, CrossColour.delta(0xff, 0x80), "both are signed bytes: (-1 * -128) >> 5");
        assertEquals(-1, CrossColour.delta(0x01, 0xff), "(1 * -1) >> 5, an arithmetic shift");
        assertEquals(3, CrossColour.delta(0x7f, 0x01), "(127 * 1) >> 5");
    }

    @Test
    void riffHeaderAndSizes() {
        byte[] f = WebpLossless.encode(image(5, 3, (x, y, c) -> x * y * c));
        assertEquals("RIFF", new String(f, 0, 4));
        assertEquals("WEBPVP8L", new String(f, 8, 8));
        assertEquals(f.length - 8, le32(f, 4));
        assertEquals(0, f.length % 2);
        assertEquals(0x2f, f[20] & 0xff);
        int bits = le32(f, 21);
        assertEquals(4, bits & 0x3fff);
        assertEquals(2, bits >>> 14 & 0x3fff);
    }

    @Test
    void sidesBeyondTheFormatAreRefused() {
        RgbImage wide = new RgbImage(WebpLossless.MAX_SIDE + 1, 1, new byte[(WebpLossless.MAX_SIDE + 1) * 3]);
        var e = assertThrows(IllegalArgumentException.class, () -> WebpLossless.encode(wide));
        assertTrue(e.getMessage().contains("16385x1"), e.getMessage());
    }

    @Test
    void predictorsFollowTheSpecification() {
        assertEquals(0x7f008081, Predictor.average(0xff0001ff, 0x0001ff04), "per channel floor of the mean");
        assertEquals(0xff00ff00, Predictor.clampedGradient(0xf0108000, 0x20008010, 0x10ff0020), "L + T - TL clamped");
        assertEquals(0xffc00000, Predictor.clampedHalfGradient(0xff800000, 0x00000080), "a + (a - b) / 2 clamped");
        assertEquals(0x40404040, Predictor.select(0x40404040, 0x10101010, 0x10101011), "top equals top-left: the left pixel");
        assertEquals(0x10111010, Predictor.select(0x11101010, 0x10111010, 0x10101010), "a tie goes to the top pixel");
        assertEquals(0x000000ff, Predictor.subtract(0, 1), "modulo 256 per channel");
        // border rules: the first pixel predicts opaque black, the first row the left, the first column the top;
        // the last column's top-right is the current row's first pixel
        int[] px = {1, 2, 3, 4, 5, 6};
        assertEquals(0xff000000, Predictor.predict(px, 3, 0, 0, 2));
        assertEquals(2, Predictor.predict(px, 3, 2, 0, 2));
        assertEquals(1, Predictor.predict(px, 3, 0, 1, 1));
        assertEquals(4, Predictor.predict(px, 3, 2, 1, 3));
    }

    private interface Pixel {
        int value(int x, int y, int c);
    }

    private static RgbImage image(int w, int h, Pixel p) {
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) for (int c = 0; c < 3; c++) rgb[(y * w + x) * 3 + c] = (byte) Math.clamp(p.value(x, y, c), 0, 255);
        return new RgbImage(w, h, rgb);
    }

    private static int le32(byte[] b, int at) {
        return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff) << 16 | (b[at + 3] & 0xff) << 24;
    }
}
