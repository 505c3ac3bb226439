package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.io.Json;
import fluxj.tensor.Conv2d;
import fluxj.tensor.ConvKernel;
import fluxj.tensor.Tensor;
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

    // The  (what oneDNN runs: norms, SiLU and upsamples applied as each convolution reads,
    // skips and the next norm's moments as it writes, arrays reused across levels, tiles and decodes) on the Java
    // kernel's f32 arithmetic through the unfused fallback of each call: the same values but for the moments,
    // summed in one pass (E[x^2] - E[x]^2 in double) instead of two; measured max |diff| 4.4e-6 untiled and
    // 3.1e-6 in tiles against the plain decode, so 1e-5 catches any level, upsample or array mix-up (errors of order 1).
    // Each runs twice, the second taking the first's arrays.
    @Test
    void theFusedFormDecodesAsThePlainOne() {
        ConvKernel java = Conv2d.kernel();
        ConvKernel fusing = new ConvKernel() {
            @Override public String name() { return "fusing " + java.name(); }
            @Override public void conv2d(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Conv2d.Padding pad, float[] out) {
                java.conv2d(x, h, w, weight, bias, stride, pad, out);
            }
            @Override public boolean fusesInput() { return true; }
        };
        Npy z = Npy.read(Fixtures.caseDir("p02_schnell_single_bf16").resolve("final_latent.npy"));
        int h = z.shape()[2], w = z.shape()[3];
        for (AutoEncoder ae : new AutoEncoder[] {single.withTiling(Tiling.off()), single.withTiling(Tiling.always(h / 2 + 2, 2))}) {
            float[] plain = ae.decode(z.floats(), h, w);
            for (int run = 0; run < 2; run++) {
                float[][] got = new float[1][];
                Conv2d.using(fusing, () -> got[0] = ae.decode(z.floats(), h, w));
                double d = Npy.maxAbsDiff(got[0], plain);
                System.getLogger(AutoEncoderTest.class.getName()).log(System.Logger.Level.INFO, ae.tiling() + " fused run " + run + ": max |diff| " + d);
                assertTrue(d < 1e-5, ae.tiling() + ", run " + run + ": max |diff| " + d);
            }
        }
        single.releaseWorkspace();
    }
}
