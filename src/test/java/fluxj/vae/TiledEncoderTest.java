package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import fluxj.testing.OneDnn;
import fluxj.tensor.Conv2d;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The encoder in bands of rows ({@link Encoder#meanInBands}) against the untiled encoder on the fixture VAE, and on
 * a 1-megapixel reference image against the official implementation's latent.
 */
class TiledEncoderTest {
    static Checkpoint ck;
    static AutoEncoder ae;

    @BeforeAll
    static void load() throws Exception {
        ck = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/ae.safetensors"));
        ae = AutoEncoder.load(ck, null);
    }

    @AfterAll
    static void close() {
        if (ck != null) ck.close();
    }

    static float[] randomImage(int h, int w, long seed) {
        Random r = new Random(seed);
        float[] x = new float[3 * h * w];
        // Smooth structure plus noise, so GroupNorm statistics differ between the bands of the image.
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < h; y++) {
                for (int i = 0; i < w; i++) x[(c * h + y) * w + i] = (float) (0.6 * Math.sin(0.11 * y * (c + 1) + 0.07 * i) + 0.4 * (r.nextFloat() * 2 - 1));
            }
        }
        return x;
    }

    // Heights and widths that are no multiple of the band (nor of each other), bands from one row (every row its
    // own band, the halo larger than the band) to more than the image (one band: the untiled arithmetic in pieces
    // of the same size).
    @ParameterizedTest
    @CsvSource({"40, 64, 1, false", "40, 64, 3, false", "40, 64, 7, false", "72, 24, 5, false", "72, 24, 16, false",
            "24, 88, 2, false", "56, 40, 100, false", "40, 64, 1, true", "40, 64, 3, true", "72, 24, 5, true", "24, 88, 2, true", "56, 40, 16, true"})
    void bandsGiveTheUntiledLatent(int h, int w, int rows, boolean streamed) {
        Encoder enc = encoder();
        float[] image = randomImage(h, w, h * 1000L + w);
        float[] untiled = enc.mean(image, h, w), tiled = enc.meanInBands(image, h, w, new Encoder.Mode(rows, streamed));
        assertEquals(untiled.length, tiled.length);
        double scale = 0;
        for (float v : untiled) scale = Math.max(scale, Math.abs(v));
        // Every GroupNorm takes the whole image's statistics computed the same way, and each output pixel of a
        // convolution sums the same products: with one band per level the latent is the untiled one exactly
        // (measured: max |diff| 0). A band of at most 64 pixels (small bands, or the last, shorter band of a level)
        // goes through the matmul's small-product path, which sums each dot product in another order: f32
        // rounding, amplified through ~25 layers to 1.3e-6 .. 2.9e-6 on latents up to 2.0 (measured). The bound is
        // ~2x that, and orders of magnitude below a halo, padding or statistics mistake, which moves latents by
        // a good part of their own magnitude.
        double diff = Npy.maxAbsDiff(untiled, tiled);
        assertTrue(diff <= 5e-6 * Math.max(1, scale), (streamed ? "streamed " : "") + "bands of " + rows + " rows on " + w + "x" + h + ": max |diff| " + diff + " (latent max " + scale + ")");
    }

    // 48x64 in bands of 6 rows: every band at every level has more than 64 pixels (6 x 16 at the 12x16 level) or
    // is the whole level (6x8), so every product takes the path the untiled encode takes: the same bits.
    @Test
    void bandsOnTheUntiledProductPathsGiveTheSameBits() {
        float[] image = randomImage(48, 64, 5);
        float[] untiled = encoder().mean(image, 48, 64), tiled = encoder().meanInBands(image, 48, 64, new Encoder.Mode(6, false));
        assertEquals(0.0, Npy.maxAbsDiff(untiled, tiled));
    }

    @Test
    void autoEncoderEncodesInBandsWhenTheTilingSaysSo() {
        int h = 48, w = 40;
        float[] image = randomImage(h, w, 7);
        AutoEncoder untiled = ae.withTiling(Tiling.off()), banded = ae.withTiling(Tiling.always(2, 0));
        assertFalse(untiled.encodesInTiles(h, w));
        assertTrue(banded.encodesInTiles(h, w));
        // Two-row bands take the small-product path (see above); the scale factor 0.3611 shrinks the difference.
        assertTrue(Npy.maxAbsDiff(untiled.encode(image, h, w), banded.encode(image, h, w)) <= 5e-6);
        // A budget below the untiled encode's activations tiles too; one above does not.
        long need = ae.encodeBytes(h, w);
        assertTrue(ae.withTiling(new Tiling(2, 0, 0, need - 1)).encodesInTiles(h, w));
        assertFalse(ae.withTiling(new Tiling(2, 0, 0, need)).encodesInTiles(h, w));
        // A budget below the bands' too streams them.
        long bands = ae.withTiling(Tiling.always(2, 0)).plannedEncodeBytes(h, w);
        assertFalse(ae.withTiling(new Tiling(2, 0, 0, bands)).encodesStreamed(h, w));
        AutoEncoder streamed = ae.withTiling(new Tiling(2, 0, 0, bands - 1));
        assertTrue(streamed.encodesStreamed(h, w));
        assertTrue(Npy.maxAbsDiff(untiled.encode(image, h, w), streamed.encode(image, h, w)) <= 5e-6);
    }

    @Test
    void oneDnnConvolutionsInBandsGiveItsUntiledLatent() {
        OneDnn.require("oneDNN banded encode");
        int h = 40, w = 72;
        float[] image = randomImage(h, w, 11);
        float[][] got = new float[3][];
        Conv2d.using(Conv2d.oneDnn(), () -> {
            got[0] = encoder().mean(image, h, w);
            got[1] = encoder().meanInBands(image, h, w, new Encoder.Mode(3, false));
        });
        got[2] = encoder().mean(image, h, w);
        double bands = Npy.maxAbsDiff(got[0], got[1]), java = Npy.maxAbsDiff(got[0], got[2]);
        // The same bf16 inputs to the same primitives: only oneDNN's summation order could differ with the band's
        // size (measured: not at all, max |diff| 0). The bf16 rounding itself moves the latent by 0.015 from the
        // f32 path (measured), so a bound of 1e-5 tells band effects from the bf16 error.
        assertTrue(bands <= 1e-5, "oneDNN in bands vs untiled: " + bands);
        assertTrue(java < 0.05, "oneDNN vs the Java path: " + java);
    }

    @Test
    void bandedEncodeNeedsAboutHalfTheMemoryStreamedAThird() {
        // FLUX's own VAE sizes at 1024x1024 would take a 160 MB random checkpoint; the fixture VAE has the same
        // structure at a quarter of the width, and the ratios are the point.
        long untiled = ae.encodeBytes(1024, 1024), banded = ae.withTiling(Tiling.always(72, 0)).plannedEncodeBytes(1024, 1024);
        AutoEncoder streaming = ae.withTiling(new Tiling(72, 0, 0, banded - 1));
        long streamed = streaming.plannedEncodeBytes(1024, 1024);
        assertTrue(banded < 0.6 * untiled && banded > 0.4 * untiled, "banded " + banded + " vs untiled " + untiled);
        assertTrue(streamed < 0.4 * untiled && streamed > 0.2 * untiled, "streamed " + streamed + " vs untiled " + untiled);
        // Streamed blocks compute conv1 twice: more arithmetic than the untiled encode, less than 1.5x of it.
        double work = streaming.plannedEncodeFlops(1024, 1024) / ae.encodeFlops(1024, 1024);
        assertTrue(work > 1.2 && work < 1.5, "streamed work " + work);
    }

    /**
     * The Kontext case's 1024x1024 reference, encoded in bands: GroupNorm statistics of the whole image, the mid
     * attention over all 16384 positions. Per-band statistics and attention score 25-28 dB on this case.
     */
    @Test
    void oneMegapixelReferenceInBandsMatchesTheOfficialLatent() throws Exception {
        var dir = Fixtures.caseDir("pi04_kontext");
        BufferedImage png = ImageIO.read(dir.resolve("ref0.png").toFile());
        int h = png.getHeight(), w = png.getWidth();
        float[] x = new float[3 * h * w];
        for (int y = 0; y < h; y++) {
            for (int i = 0; i < w; i++) {
                int rgb = png.getRGB(i, y);
                for (int c = 0; c < 3; c++) x[(c * h + y) * w + i] = (float) ((rgb >> (16 - 8 * c)) & 0xff) / 127.5f - 1f;
            }
        }
        AutoEncoder banded = ae.withTiling(Tiling.always(Tiling.DEFAULT_TILE, 0));
        assertTrue(banded.encodesInTiles(h, w));
        float[] got = banded.encode(x, h, w);
        float[] want = Npy.read(dir.resolve("ref_latent.npy")).floats();
        double diff = Npy.maxAbsDiff(got, want);
        // The reference's own f32 run is 8.0e-5 from its f64 run here (meta.json calibration): two f32 runs
        // summing in other orders differ by as much again.
        assertTrue(diff < 2e-4, "1024x1024 reference in bands vs ref_latent.npy: max |diff| " + diff);
    }

    private static Encoder encoder() { return ae.encoder(); }
}
