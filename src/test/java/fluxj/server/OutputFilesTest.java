package fluxj.server;

import fluxj.image.Exif;
import fluxj.image.WebpLossless;
import fluxj.pipeline.PngFiles;
import fluxj.pipeline.RgbImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Converted outputs: made once, kept while they carry the PNG's parameters, made again when they do not. */
class OutputFilesTest {
    @TempDir
    Path dir;

    private static RgbImage image() {
        byte[] rgb = new byte[8 * 6 * 3];
        for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) (i * 37);
        return new RgbImage(8, 6, rgb);
    }

    @Test
    void aConversionWithoutTheParametersIsMadeAgainAndAGoodOneKept() throws IOException {
        String parameters = "a red barn\nSteps: 4, Seed: 7, Size: 8x6";
        PngFiles.write(dir.resolve("x.png"), image(), parameters);
        String exif = HexFormat.of().formatHex(Exif.userComment(parameters));
        // as a version before EXIF left them
        ByteArrayOutputStream jpeg = new ByteArrayOutputStream();
        ImageIO.write(image().toBufferedImage(), "jpeg", jpeg);
        Files.write(dir.resolve("x.jpg"), jpeg.toByteArray());
        Files.write(dir.resolve("x.webp"), WebpLossless.encode(image()));

        for (String format : new String[] {"jpeg", "webp"}) {
            String name = OutputFiles.as(dir, "x.png", format);
            byte[] made = Files.readAllBytes(dir.resolve(name));
            assertTrue(HexFormat.of().formatHex(made).contains(exif), format + " made again with the parameters");
            assertEquals(name, OutputFiles.as(dir, "x.png", format));
            assertArrayEquals(made, Files.readAllBytes(dir.resolve(name)), format + " kept the second time");
        }
    }

    @Test
    void withoutParametersAnExistingConversionIsKept() throws IOException {
        ImageIO.write(image().toBufferedImage(), "png", dir.resolve("y.png").toFile());
        byte[] existing = WebpLossless.encode(image());
        Files.write(dir.resolve("y.webp"), existing);
        assertEquals("y.webp", OutputFiles.as(dir, "y.png", "webp"));
        assertArrayEquals(existing, Files.readAllBytes(dir.resolve("y.webp")));
    }
}
