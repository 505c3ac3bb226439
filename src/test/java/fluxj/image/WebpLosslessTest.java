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
