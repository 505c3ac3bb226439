package fluxj.image;

import fluxj.pipeline.RgbImage;
import fluxj.testing.PillowExif;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The parameters text as EXIF UserComment in JPEG and WebP files: Pillow (libjpeg, libwebp) reads the comment back
 * exactly and decodes the images to the same pixels as without it.
 */
class ExifTest {
    @TempDir
    Path dir;

    private static final String TEXT = "a café at dusk, «oil painting» 日本語 🐈\nNegative prompt: blurry\n"
            + "Steps: 4, Sampler: Euler, CFG scale: 1, Seed: 42, Size: 64x48, Model: \"flux1, tiny\", Version: fluxj 0.1.0";

    private static RgbImage image(int w, int h) {
        byte[] rgb = new byte[w * h * 3];
        for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) (i * 37 % 251 + (i / (3 * w)) * 3);
        return new RgbImage(w, h, rgb);
    }

    private static byte[] jpeg(RgbImage img) throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        ImageIO.write(img.toBufferedImage(), "jpeg", b);
        return b.toByteArray();
    }

    @Test
    void pillowReadsTheCommentBackAndTheSamePixels() throws Exception {
        RgbImage img = image(64, 48), odd = image(33, 17);
        byte[] plain = jpeg(img);
        Files.write(dir.resolve("plain.jpg"), plain);
        Files.write(dir.resolve("tagged.jpg"), Exif.intoJpeg(plain, Exif.userComment(TEXT)));
        Files.write(dir.resolve("tagged.webp"), WebpLossless.encode(img, Exif.userComment(TEXT)));
        // odd sizes: odd-length chunks are padded, the canvas size is stored minus one in 24 bits
        Files.write(dir.resolve("odd.webp"), WebpLossless.encode(odd, Exif.userComment("x")));
        Files.write(dir.resolve("empty.webp"), WebpLossless.encode(odd, Exif.userComment("")));
        Map<String, PillowExif.Read> read = PillowExif.read(dir);
        assertEquals(Optional.empty(), read.get("plain.jpg").comment());
        assertEquals(Optional.of(TEXT), read.get("tagged.jpg").comment());
        assertArrayEquals(read.get("plain.jpg").rgb(), read.get("tagged.jpg").rgb(), "the JPEG's image data is untouched");
        assertEquals(Optional.of(TEXT), read.get("tagged.webp").comment());
        assertArrayEquals(img.rgb(), read.get("tagged.webp").rgb(), "lossless: the pixels written");
        assertEquals(Optional.of("x"), read.get("odd.webp").comment());
        assertArrayEquals(odd.rgb(), read.get("odd.webp").rgb());
        assertEquals(Optional.of(""), read.get("empty.webp").comment());
    }

    @Test
    void theLayoutIsA1111s() {
        byte[] e = Exif.userComment("ab");
        // big-endian TIFF, IFD0 at 8 with one entry: the Exif IFD pointer (0x8769, LONG) to offset 26
        assertArrayEquals(new byte[]{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, (byte) 0x87, 0x69, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0},
                java.util.Arrays.copyOf(e, 26));
        // the Exif IFD: UserComment (0x9286, UNDEFINED), 8 + 4 bytes at offset 44
        assertArrayEquals(new byte[]{0, 1, (byte) 0x92, (byte) 0x86, 0, 7, 0, 0, 0, 12, 0, 0, 0, 44, 0, 0, 0, 0},
                java.util.Arrays.copyOfRange(e, 26, 44));
        assertArrayEquals(new byte[]{'U', 'N', 'I', 'C', 'O', 'D', 'E', 0, 0, 'a', 0, 'b'}, java.util.Arrays.copyOfRange(e, 44, e.length));
    }

    @Test
    void aCommentTooLongForAJpegSegmentIsLeftOutAndNotAJpegIsRefused() throws Exception {
        byte[] plain = jpeg(image(16, 16));
        assertNull(Exif.intoJpeg(plain, Exif.userComment("x".repeat(40_000))));
        byte[] fits = Exif.intoJpeg(plain, Exif.userComment("x".repeat(32_000)));
        assertEquals(plain.length + 4 + 6 + 44 + 8 + 64_000, fits.length);
        assertThrows(IllegalArgumentException.class, () -> Exif.intoJpeg(new byte[]{1, 2, 3, 4}, Exif.userComment("x")));
    }
}
