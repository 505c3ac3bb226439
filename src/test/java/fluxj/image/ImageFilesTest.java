package fluxj.image;

import fluxj.condition.Pixels;
import fluxj.pipeline.RgbImage;
import fluxj.testing.Pillow;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Input images read as Pillow's {@code convert("RGB")} and masks as its {@code convert("L")}, Pillow itself the oracle. */
class ImageFilesTest {
    @TempDir
    Path dir;

    /** Writes one image per PNG kind with Pillow, and what Pillow's convert("RGB") and convert("L") make of it. */
    private static final String SCRIPT = """
            import sys, os
            import numpy as np
            from PIL import Image
            d = sys.argv[1]
            rng = np.random.default_rng(5)
            rgb = rng.integers(0, 256, (23, 31, 3), dtype=np.uint8)
            a = rng.integers(0, 256, (23, 31), dtype=np.uint8)
            images = {
                'rgb': Image.fromarray(rgb, 'RGB'),
                'rgba': Image.fromarray(np.dstack([rgb, a]), 'RGBA'),
                'l': Image.fromarray(a, 'L'),
                'la': Image.fromarray(np.dstack([a, rgb[..., 0]]), 'LA'),
                'p': Image.fromarray(rgb, 'RGB').quantize(50),
                'bw': Image.fromarray(a, 'L').convert('1'),
                'i16': Image.fromarray((a.astype(np.uint16) * 3), 'I;16'),
            }
            images['p'].info['transparency'] = 3
            for name, im in images.items():
                f = os.path.join(d, name + '.png')
                im.save(f, transparency=3) if name == 'p' else im.save(f)
                back = Image.open(f)
                open(os.path.join(d, name + '.rgb'), 'wb').write(back.convert('RGB').tobytes())
                open(os.path.join(d, name + '.lum'), 'wb').write(back.convert('L').tobytes())
            Image.fromarray(rgb, 'RGB').save(os.path.join(d, 'photo.jpg'), quality=95)
            back = Image.open(os.path.join(d, 'photo.jpg'))
            open(os.path.join(d, 'photo.rgb'), 'wb').write(back.convert('RGB').tobytes())
            """;

    @Test
    void pngOfEveryKindReadsAsPillowConvertsIt() throws Exception {
        Pillow.run(SCRIPT, dir);
        for (String name : List.of("rgb", "rgba", "l", "la", "p", "bw", "i16")) {
            RgbImage img = ImageFiles.read(dir.resolve(name + ".png"), ImageFiles.MAX_PIXELS).image();
            assertEquals(31, img.width());
            assertArrayEquals(Files.readAllBytes(dir.resolve(name + ".rgb")), img.rgb(), name + ": RGB");
            // masks: Pillow's integer luminance of the RGB image equals its convert("L") of the file itself
            int[] l = Pixels.luminance(img);
            byte[] want = Files.readAllBytes(dir.resolve(name + ".lum"));
            for (int i = 0; i < l.length; i++) assertEquals(want[i] & 0xff, l[i], name + ": L at " + i);
        }
        // JPEG: Java's and libjpeg's decoders differ in rounding (IDCT, chroma upsampling): close, not equal
        RgbImage jpg = ImageFiles.read(dir.resolve("photo.jpg"), ImageFiles.MAX_PIXELS).image();
        double psnr = jpg.psnr(new RgbImage(31, 23, Files.readAllBytes(dir.resolve("photo.rgb"))));
        assertTrue(psnr > 35, "JPEG decoded " + psnr + " dB from Pillow's");
    }

    @Test
    void badFilesAreNamed() throws IOException {
        assertThrows(NoSuchFileException.class, () -> ImageFiles.read(dir.resolve("missing.png"), ImageFiles.MAX_PIXELS));
        Path text = Files.writeString(dir.resolve("a.png"), "hello");
        var e = assertThrows(IOException.class, () -> ImageFiles.read(text, ImageFiles.MAX_PIXELS));
        assertTrue(e.getMessage().startsWith(text.toString()) && e.getMessage().contains("not a PNG or JPEG"), e.getMessage());

        Path png = dir.resolve("b.png");
        javax.imageio.ImageIO.write(new java.awt.image.BufferedImage(40, 30, java.awt.image.BufferedImage.TYPE_INT_RGB), "png", png.toFile());
        byte[] bytes = Files.readAllBytes(png);
        Path cut = dir.resolve("cut.png");
        Files.write(cut, Arrays.copyOf(bytes, bytes.length - 30));
        e = assertThrows(IOException.class, () -> ImageFiles.read(cut, ImageFiles.MAX_PIXELS));
        assertTrue(e.getMessage().startsWith(cut.toString()) && e.getMessage().contains("truncated"), e.getMessage());

        Path jpg = dir.resolve("c.jpg");
        var noisy = new java.awt.image.BufferedImage(64, 48, java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.util.Random rnd = new java.util.Random(3);
        for (int y = 0; y < 48; y++) for (int x = 0; x < 64; x++) noisy.setRGB(x, y, rnd.nextInt());
        javax.imageio.ImageIO.write(noisy, "jpeg", jpg.toFile()); // mostly scan data: the cut falls inside it
        bytes = Files.readAllBytes(jpg);
        Path cutJpg = dir.resolve("cut.jpg");
        Files.write(cutJpg, Arrays.copyOf(bytes, bytes.length * 2 / 3));
        e = assertThrows(IOException.class, () -> ImageFiles.read(cutJpg, ImageFiles.MAX_PIXELS));
        assertTrue(e.getMessage().startsWith(cutJpg.toString()) && e.getMessage().contains("truncated"), e.getMessage());

        var big = assertThrows(IllegalArgumentException.class, () -> ImageFiles.read(png, 40 * 30 - 1));
        assertTrue(big.getMessage().contains("40x30"), big.getMessage());
    }
}
