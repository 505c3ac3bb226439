package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.tensor.Conv2d;
import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import fluxj.testing.OneDnn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fixture VAE with oneDNN's bf16 convolution: decodes against the f32 reference, encodes against the Java path. */
class OneDnnAutoEncoderTest {
    static Checkpoint ck;
    static AutoEncoder ae;

    @BeforeAll
    static void load() throws Exception {
        OneDnn.require("oneDNN VAE");
        ck = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/ae.safetensors"));
        ae = AutoEncoder.load(ck, null);
    }

    @AfterAll
    static void close() {
        if (ck != null) ck.close();
    }

    // bf16 keeps 8 significant bits: each convolution's output moves by ~2^-9 relative to its root-sum-square of
    // products, and 30 convolutions (GroupNorm in between rescales) add such errors. On images in [-1, 1]:
    // measured PSNR 55.3-58.5 dB and max |diff| 0.014-0.018 (about 2 of 255 levels) over the three cases, so 48 dB and
    // 0.04 (5 levels) leave room for another oneDNN version's summation order while catching any layout or
    // padding mistake (those give errors of order 1, PSNR below 20 dB).
    @ParameterizedTest
    @ValueSource(strings = {"p01_schnell_diffusers", "p02_schnell_single_bf16", "p03_schnell_single_fp8"})
    void decodesCloseToTheF32Reference(String id) {
        Npy z = Npy.read(Fixtures.caseDir(id).resolve("final_latent.npy"));
        float[] want = Npy.read(Fixtures.caseDir(id).resolve("decoded.npy")).floats();
        int h = z.shape()[2], w = z.shape()[3];
        float[][] got = new float[1][];
        Conv2d.using(Conv2d.oneDnn(), () -> got[0] = ae.decode(z.floats(), h, w));
        double se = 0;
        for (int i = 0; i < want.length; i++) se += (got[0][i] - want[i]) * (double) (got[0][i] - want[i]);
        // PSNR on the [-1, 1] range (peak-to-peak 2), as for the uint8 image.
        double psnr = 10 * Math.log10(4 / (se / want.length)), max = Npy.maxAbsDiff(got[0], want);
        System.getLogger(OneDnnAutoEncoderTest.class.getName()).log(System.Logger.Level.INFO,
                id + ": oneDNN decode PSNR " + String.format("%.1f", psnr) + " dB, max |diff| " + max);
        assertTrue(psnr > 48 && max < 0.04, id + ": PSNR " + psnr + " dB, max |diff| " + max);
    }

    // The encoder's stride-2 downsamples (padded by one row and column at the bottom and right) through oneDNN,
    // against the Java f32 encoder on the fixture image. bf16 rounding through ~20 convolutions: measured max
    // difference 0.9% of the latent's largest magnitude; 3% leaves room for another oneDNN version's summation
    // order, while a padding on the wrong side would move the downsampled maps by a pixel, errors of order 100%.
    @Test
    void encodesCloseToTheJavaPath() {
        float[] image = EncoderTest.image();
        int h = 64, w = 64;
        float[] java = ae.encode(image, h, w);
        float[][] got = new float[1][];
        Conv2d.using(Conv2d.oneDnn(), () -> got[0] = ae.encode(image, h, w));
        double max = 0, scale = 0;
        for (int i = 0; i < java.length; i++) {
            max = Math.max(max, Math.abs(got[0][i] - java[i]));
            scale = Math.max(scale, Math.abs(java[i]));
        }
        System.getLogger(OneDnnAutoEncoderTest.class.getName()).log(System.Logger.Level.INFO,
                "oneDNN encode: max |diff| " + max + " of max |latent| " + scale);
        assertTrue(max < 0.03 * scale, "max |diff| " + max + " of max |latent| " + scale);
    }
}
