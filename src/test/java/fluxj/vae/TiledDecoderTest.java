package fluxj.vae;

import fluxj.bench.VaeBench;
import fluxj.io.Checkpoint;
import fluxj.tensor.DType;
import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tiled decoding of the fixture VAE against the untiled decode, on a non-square random latent. */
class TiledDecoderTest {
    static final int H = 16, W = 24;
    static Checkpoint ck;
    static AutoEncoder ae;
    static float[] z, untiled;

    @BeforeAll
    static void decodeUntiled() throws Exception {
        ck = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/ae.safetensors"));
        ae = AutoEncoder.load(ck, null).withTiling(Tiling.off());
        Random r = new Random(1);
        z = new float[16 * H * W];
        for (int i = 0; i < z.length; i++) z[i] = (float) r.nextGaussian();
        untiled = ae.decode(z, H, W);
    }

    @AfterAll
    static void close() {
        if (ck != null) ck.close();
    }

    /** Largest change of the error field (tiled - untiled) between neighbouring pixels: [across tile edges, elsewhere]. */
    static double[] errorJumps(float[] tiled, TiledDecoder td) {
        Set<Integer> cols = edges(td, W), rows = edges(td, H);
        int h = 8 * H, w = 8 * W;
        double atEdges = 0, elsewhere = 0;
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int i = (c * h + y) * w + x;
                    double e = tiled[i] - untiled[i];
                    if (x > 0) {
                        double j = Math.abs(e - (tiled[i - 1] - untiled[i - 1]));
                        if (cols.contains(x)) atEdges = Math.max(atEdges, j); else elsewhere = Math.max(elsewhere, j);
                    }
                    if (y > 0) {
                        double j = Math.abs(e - (tiled[i - w] - untiled[i - w]));
                        if (rows.contains(y)) atEdges = Math.max(atEdges, j); else elsewhere = Math.max(elsewhere, j);
                    }
                }
            }
        }
        return new double[]{atEdges, elsewhere};
    }

    /** Image-pixel positions where a tile starts or ends inside the image (a pixel and its predecessor straddle it). */
    static Set<Integer> edges(TiledDecoder td, int n) {
        Set<Integer> s = new HashSet<>();
        int span = td.span(n);
        for (int start : td.starts(n)) {
            if (start > 0) s.add(8 * start);
            if (start + span < n) s.add(8 * (start + span));
        }
        return s;
    }

    @Test
    void tiledMatchesUntiledWithoutSeams() {
        TiledDecoder td = new TiledDecoder(null, 12, 4, true);
        assertEquals(2, td.starts(H).length, "tiles smaller than the latent in both directions");
        assertEquals(3, td.starts(W).length);
        float[] tiled = ae.withTiling(Tiling.always(12, 4)).decode(z, H, W);
        // Tiles normalise with their own GroupNorm statistics (as diffusers' and ComfyUI's tiled decoders do; the
        // attention and the lowest level here see the whole latent). With random weights, a random latent and
        // 10-11 pixel tiles that moves values by up to 0.54, 0.064 on average (measured), on an image spanning +-3;
        // a misplaced or misweighted tile would be off by the image's own magnitude.
        assertSmallDifferenceAndNoSeam(tiled, td, 0.8, 0.1);
    }

    @Test
    void trunkInTilesToo() {
        // A budget too small for the whole-latent trunk: every tile runs the whole decoder, attention included.
        float[] tiled = ae.withTiling(new Tiling(12, 4, 1, 1)).decode(z, H, W);
        // As above, plus tile-local attention and zero padding at the latent level (measured 0.74 max, 0.077 mean).
        assertSmallDifferenceAndNoSeam(tiled, new TiledDecoder(null, 12, 4, false), 1.0, 0.12);
    }

    static void assertSmallDifferenceAndNoSeam(float[] tiled, TiledDecoder td, double maxTol, double meanTol) {
        double max = Npy.maxAbsDiff(tiled, untiled), mean = 0, range = 0;
        for (int i = 0; i < tiled.length; i++) {
            mean += Math.abs(tiled[i] - untiled[i]) / tiled.length;
            range = Math.max(range, Math.abs(untiled[i]));
        }
        assertTrue(max < maxTol, "tiled vs untiled: max |diff| " + max + " (image max " + range + ")");
        assertTrue(mean < meanTol, "tiled vs untiled: mean |diff| " + mean);
        double[] j = errorJumps(tiled, td);
        assertTrue(j[0] <= j[1], "seam: the error jumps by " + j[0] + " across tile edges, at most " + j[1] + " elsewhere");
    }

    @Test
    void withoutOverlapTheSeamMetricSeesTheCut() {
        TiledDecoder td = new TiledDecoder(null, 12, 0, true);
        float[] tiled = ae.withTiling(Tiling.always(12, 0)).decode(z, H, W);
        double[] j = errorJumps(tiled, td);
        assertTrue(j[0] > j[1], "abutting tiles must show a seam: " + j[0] + " across edges vs " + j[1] + " elsewhere");
    }

    @Test
    void fixtureLatentInTiles() {
        Npy latent = Npy.read(Fixtures.caseDir("p02_schnell_single_bf16").resolve("final_latent.npy"));
        float[] want = Npy.read(Fixtures.caseDir("p02_schnell_single_bf16").resolve("decoded.npy")).floats();
        float[] tiled = ae.withTiling(Tiling.always(6, 2)).decode(latent.floats(), 8, 8);
        double max = Npy.maxAbsDiff(tiled, want);
        // Two 5-pixel tiles per side of the 8x8 latent: as above, tile-local GroupNorm statistics (measured 0.69).
        assertTrue(max < 1.0, "tiled fixture decode vs decoded.npy: " + max);
    }

    @Test
    void tilesAreEvenAndCoverTheSide() {
        TiledDecoder td = new TiledDecoder(null, 64, 8, true);
        assertEquals(48, td.span(128));
        assertArrayEquals(new int[]{0, 40, 80}, td.starts(128));
        assertEquals(58, td.span(256));
        assertArrayEquals(new int[]{0, 49, 99, 148, 198}, td.starts(256));
        assertArrayEquals(new int[]{0}, td.starts(64));
        assertEquals(50, td.span(50));
        for (int n = 65; n < 300; n++) {
            int[] s = td.starts(n);
            int span = td.span(n);
            assertTrue(span <= 64 && s[0] == 0 && s[s.length - 1] + span == n, "side " + n);
            for (int i = 1; i < s.length; i++) assertTrue(s[i - 1] + span - s[i] >= 8, "overlap at side " + n);
        }
    }

    @Test
    void memoryOfA2048DecodeIsBoundedByTheTile() {
        try (Arena arena = Arena.ofShared()) {
            VaeConfig flux = new VaeConfig(3, 3, 128, new int[]{1, 2, 4, 4}, 2, 16, 32, VaeConfig.FLUX_SCALE, VaeConfig.FLUX_SHIFT);
            AutoEncoder real = AutoEncoder.load(VaeBench.randomDecoder(flux, DType.BF16, arena), null);
            AutoEncoder roomy = real.withTiling(new Tiling(64, 8, 0, 4L << 30)), tight = real.withTiling(new Tiling(64, 8, 0, 512L << 20));
            long untiled = real.decodeBytes(256, 256), wholeTrunk = roomy.tileBytes(256, 256), allTiled = tight.tileBytes(256, 256);
            // Untiled, 2048x2048 holds several 128-channel 2048x2048 maps (2 GB each).
            assertTrue(untiled > 8 * wholeTrunk, "untiled " + untiled + " vs tiled " + wholeTrunk);
            assertTrue(roomy.tiling().applies(256, 256, untiled) && tight.tiling().applies(256, 256, untiled));
            assertFalse(roomy.tiling().applies(64, 64, real.decodeBytes(64, 64)), "512x512 fits the 4 GB budget untiled");
            assertEquals(wholeTrunk, roomy.plannedDecodeBytes(256, 256));
            assertTrue(wholeTrunk <= roomy.tiling().memoryBudget());
            // Under the tight budget even the trunk is tiled: one 64x64-latent decode plus the latent and the image.
            long output = 4L * 2048 * 2048 * 4 + 16L * 256 * 256 * 4;
            assertTrue(allTiled <= real.decodeBytes(64, 64) + output, "all tiled " + allTiled);
            assertTrue(allTiled < wholeTrunk, "all tiled " + allTiled + " vs whole trunk " + wholeTrunk);
        }
    }
}
