package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.io.Json;
import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The encoder. The fixtures hold no encoder output and their weights are random (so encode(decode(z)) is not z:
 * a random autoencoder does not invert itself), hence: an independent double-precision transcription of BFL's
 * autoencoder.py ({@link ReferenceVae}) computes what the reference would give for the fixture image, after its
 * own decoder has been checked against the fixture's decoded.npy; and the two layouts must agree.
 */
class EncoderTest {
    static Checkpoint singleCk, diffusersCk;
    static AutoEncoder single, diffusers;
    static final String CASE = "p01_schnell_diffusers";

    @BeforeAll
    static void load() throws Exception {
        singleCk = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/ae.safetensors"));
        single = AutoEncoder.load(singleCk, null);
        Path dir = Fixtures.model("flux1-tiny-schnell/vae");
        diffusersCk = Checkpoint.open(dir);
        diffusers = AutoEncoder.load(diffusersCk, Json.readObject(dir.resolve("config.json")));
    }

    @AfterAll
    static void close() {
        if (singleCk != null) singleCk.close();
        if (diffusersCk != null) diffusersCk.close();
    }

    /** The reference image as the round trip would take it: decoded.npy clamped to [-1, 1]. */
    static float[] image() {
        float[] x = Npy.read(Fixtures.caseDir(CASE).resolve("decoded.npy")).floats();
        for (int i = 0; i < x.length; i++) x[i] = Math.max(-1f, Math.min(1f, x[i]));
        return x;
    }

    @Test
    void referenceTranscriptionReproducesTheFixtureDecode() {
        Npy z = Npy.read(Fixtures.caseDir(CASE).resolve("final_latent.npy"));
        double[] zs = new double[z.data().length];
        for (int i = 0; i < zs.length; i++) zs[i] = z.data()[i] / VaeConfig.FLUX_SCALE + VaeConfig.FLUX_SHIFT;
        double[] got = new ReferenceVae(singleCk).decode(zs, 16, 8, 8);
        float[] want = Npy.read(Fixtures.caseDir(CASE).resolve("decoded.npy")).floats();
        double max = 0;
        for (int i = 0; i < want.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
        // f64 against the f32 reference: the fixtures' own f32-vs-f64 maximum is 1.7e-5.
        assertTrue(max < 3e-5, "reference transcription vs decoded.npy: " + max);
    }

    @Test
    void encodesAsTheReferenceWould() {
        float[] img = image();
        double[] x = new double[img.length];
        for (int i = 0; i < x.length; i++) x[i] = img[i];
        double[] mean = new ReferenceVae(singleCk).encodeMean(x, 3, 64, 64);
        float[] got = single.encode(img, 64, 64);
        assertEquals(16 * 8 * 8, got.length);
        double max = 0, scale = 0;
        for (int i = 0; i < got.length; i++) {
            double want = (mean[i] - VaeConfig.FLUX_SHIFT) * VaeConfig.FLUX_SCALE;
            max = Math.max(max, Math.abs(got[i] - want));
            scale = Math.max(scale, Math.abs(want));
        }
        // f32 against f64 through the encoder's ~20 layers: measured 5e-7 on latents up to 0.7; 10x margin.
        assertTrue(max < 5e-6, "encoder vs f64 transcription: max |diff| " + max + " (latent max " + scale + ")");
    }

    @Test
    void bothLayoutsEncodeAlike() {
        float[] img = image();
        // Same values (BF16 exactly representable) and kernels; only the order of a vector lane reduction may
        // differ between interpreted and compiled code, a few f32 ulps.
        float[] a = single.encode(img, 64, 64), b = diffusers.encode(img, 64, 64);
        assertTrue(Npy.maxAbsDiff(a, b) < 1e-6, "layouts differ by " + Npy.maxAbsDiff(a, b));
    }

    @Test
    void roundTripMatchesTheReferenceRoundTrip() {
        float[] img = image();
        float[] back = single.decode(single.encode(img, 64, 64), 8, 8);
        double[] x = new double[img.length];
        for (int i = 0; i < x.length; i++) x[i] = img[i];
        ReferenceVae ref = new ReferenceVae(singleCk);
        double[] mean = ref.encodeMean(x, 3, 64, 64);
        // ae.decode(ae.encode(x)) = decoder((mean - shift) * scale / scale + shift), in f32 as the reference runs it.
        for (int i = 0; i < mean.length; i++) mean[i] = (float) ((float) ((mean[i] - VaeConfig.FLUX_SHIFT) * VaeConfig.FLUX_SCALE) / VaeConfig.FLUX_SCALE + VaeConfig.FLUX_SHIFT);
        double[] want = ref.decode(mean, 16, 8, 8);
        double max = 0;
        for (int i = 0; i < want.length; i++) max = Math.max(max, Math.abs(back[i] - want[i]));
        // Encoder and decoder errors add: each is within 2e-5 of f64 (see the tests above).
        assertTrue(max < 4e-5, "decode(encode(x)) vs the f64 reference round trip: " + max);
    }

    @Test
    void rejectsImagesThatAreNotMultiplesOfEight() {
        assertThrows(IllegalArgumentException.class, () -> single.encode(new float[3 * 60 * 64], 60, 64));
        assertThrows(IllegalArgumentException.class, () -> single.encode(new float[3 * 64 * 64 - 1], 64, 64));
    }
}
