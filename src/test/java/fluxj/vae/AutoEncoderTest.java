package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.io.Json;
import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The autoencoder against the fixtures' reference decodes, in both on-disk layouts. */
class AutoEncoderTest {
    static Checkpoint diffusersCk, singleCk;
    static AutoEncoder diffusers, single;

    @BeforeAll
    static void load() throws Exception {
        Path dir = Fixtures.model("flux1-tiny-schnell/vae");
        diffusersCk = Checkpoint.open(dir);
        diffusers = AutoEncoder.load(diffusersCk, Json.readObject(dir.resolve("config.json")));
        singleCk = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/ae.safetensors"));
        single = AutoEncoder.load(singleCk, null);
    }

    @AfterAll
    static void close() {
        if (diffusersCk != null) diffusersCk.close();
        if (singleCk != null) singleCk.close();
    }

    @Test
    void configIsReadFromTheTensors() {
        VaeConfig c = single.config();
        assertEquals(32, c.ch());
        assertEquals("[1, 2, 2, 2]", java.util.Arrays.toString(c.chMult()));
        assertEquals(2, c.numResBlocks());
        assertEquals(16, c.zChannels());
        assertEquals(8, c.factor());
        assertEquals(0.3611f, c.scaleFactor());
        assertEquals(0.1159f, c.shiftFactor());
        assertEquals(c, diffusers.config());
    }

    // The reference decoded in f32 (torch); its f32 and f64 runs differ by up to 1.7e-5 (meta.json), a fair bound
    // for f32 rounding of another summation order: measured 6.4e-6 in both layouts (channels-last convolutions).
    @ParameterizedTest
    @ValueSource(strings = {"p01_schnell_diffusers", "p02_schnell_single_bf16", "p03_schnell_single_fp8"})
    void decodesTheFinalLatentInBothLayouts(String id) {
        Npy z = Npy.read(Fixtures.caseDir(id).resolve("final_latent.npy"));
        float[] want = Npy.read(Fixtures.caseDir(id).resolve("decoded.npy")).floats();
        int h = z.shape()[2], w = z.shape()[3];
        double dd = Npy.maxAbsDiff(diffusers.decode(z.floats(), h, w), want);
        double ds = Npy.maxAbsDiff(single.decode(z.floats(), h, w), want);
        assertTrue(dd < 2e-5, "diffusers layout: max |diff| " + dd);
        assertTrue(ds < 2e-5, "single file: max |diff| " + ds);
    }
}
