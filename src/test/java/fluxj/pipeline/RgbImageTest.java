package fluxj.pipeline;

import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RgbImageTest {

    @Test
    void conversionTruncatesAfterClamping() {
        // planes r = (-1, 1), g = (0, 2), b = (-3, 0.999); 127.5*(x+1): -1 -> 0, 1 -> 255, 0 -> 127 (127.5
        // truncated), 0.999 -> 254 (254.87 truncated), beyond the range clamped; pixels come out interleaved
        RgbImage img = RgbImage.fromDecoded(new float[]{-1f, 1f, 0f, 2f, -3f, 0.999f}, 2, 1);
        assertArrayEquals(new byte[]{0, (byte) 127, 0, (byte) 255, (byte) 255, (byte) 254}, img.rgb());
    }

    @Test
    void decodedFixtureGivesTheExpectedPng() throws IOException {
        // The reference's decoded tensor through our conversion must give its out.png exactly (same float32 ops).
        var dir = Fixtures.caseDir("p01_schnell_diffusers");
        RgbImage mine = RgbImage.fromDecoded(Npy.read(dir.resolve("decoded.npy")).floats(), 64, 64);
        RgbImage ref = PngFiles.readImage(dir.resolve("out.png"));
        assertArrayEquals(ref.rgb(), mine.rgb());
        assertTrue(Double.isInfinite(mine.psnr(ref)));
    }

    @Test
    void psnrOfOneLevelEverywhereIs48dB() {
        RgbImage a = new RgbImage(1, 1, new byte[]{10, 10, 10}), b = new RgbImage(1, 1, new byte[]{11, 11, 11});
        assertEquals(20 * Math.log10(255), a.psnr(b), 1e-9);
    }
}
