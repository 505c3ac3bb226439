package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.tensor.Conv2d;
import fluxj.tensor.Matmul;
import fluxj.tensor.onednn.OneDnnMatmul;
import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import fluxj.testing.OneDnn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fixture VAE on oneDNN: bf16 decodes against the f32 reference, f32 encodes against the Java path. */
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

    // The encoder on oneDNN's kernels keeps f32 (AutoEncoder's f32 convolution and f32 products and attention,
    // whatever the kernels in use): against the Java f32 encoder on the fixture image the two differ by summation
    // order only, measured 2.4e-6 of a latent of magnitude ~1; 1e-4 of the largest magnitude bounds that, while the
    // bf16 encode this replaced differed by 0.9%. The stride-2 downsamples (padded by one row and column at the
    // bottom and right) run through oneDNN: a padding on the wrong side would move the maps by a pixel, errors of
    // order 100%. The decode under the same kernels does round (it differs by more than 1e-3), so they were in use.
    @Test
    void encodesInF32OnOneDnnKernels() {
        float[] image = EncoderTest.image();
        int h = 64, w = 64;
        float[] java = ae.encode(image, h, w);
        float[] got = onOneDnn(() -> ae.encode(image, h, w));
        double max = Npy.maxAbsDiff(got, java), scale = 0;
        for (float v : java) scale = Math.max(scale, Math.abs(v));
        System.getLogger(OneDnnAutoEncoderTest.class.getName()).log(System.Logger.Level.INFO,
                "oneDNN encode: max |diff| " + max + " of max |latent| " + scale);
        assertTrue(max < 1e-4 * scale, "max |diff| " + max + " of max |latent| " + scale);
        // in bands of rows and streamed (conv1's output not held) too: the same f32 kernels on parts of the image
        AutoEncoder streamed = ae.withTiling(new Tiling(2, 0, 0, 1));
        assertTrue(streamed.encodesStreamed(h, w));
        for (AutoEncoder banded : new AutoEncoder[] {ae.withTiling(Tiling.always(2, 0)), streamed}) {
            assertTrue(banded.encodesInTiles(h, w));
            float[] part = onOneDnn(() -> banded.encode(image, h, w));
            assertTrue(Npy.maxAbsDiff(part, java) < 1e-4 * scale, "bands: max |diff| " + Npy.maxAbsDiff(part, java));
        }

        float[] z = java.clone();
        float[] decoded = onOneDnn(() -> ae.decode(z, h / 8, w / 8));
        assertTrue(Npy.maxAbsDiff(decoded, ae.decode(z, h / 8, w / 8)) > 1e-3, "the decode on the same kernels did not round to bf16");
    }

    /** {@code body} with oneDNN's products, attention and convolutions doing this thread's work (the suite runs the Java path). */
    private static float[] onOneDnn(Supplier<float[]> body) {
        return Matmul.computing(new OneDnnMatmul(Matmul.kernel()), () -> Conv2d.computing(Conv2d.oneDnn(), body));
    }

    // The plan counts the encoder's oneDNN weight copies in f32: its 30 convolution weights (F32 in the fixture,
    // the mid attention's 1x1 projections excluded: they are products, used as they are) at 4 bytes a parameter
    // beside the Java path's tap-major copies; the decoder's stay bf16 (DecodeMemoryTest).
    @Test
    void planCountsTheEncodersF32WeightCopies() {
        long params = ck.tensors().entrySet().stream()
                .filter(e -> e.getKey().startsWith("encoder.") && !e.getKey().contains("attn") && e.getValue().rank() == 4)
                .mapToLong(e -> e.getValue().numel()).sum();
        long java = ae.encodeWeightCopyBytes(), oneDnn = Conv2d.computing(Conv2d.oneDnn(), ae::encodeWeightCopyBytes);
        assertEquals(4 * params, oneDnn - java);
        // Its native buffers (the products here on the Java kernel, which keeps none): the largest source, level 0's
        // 32 channels at 64x64 in f32 (not bf16), plus the largest f32 destination, the same size.
        long buffers = Conv2d.computing(Conv2d.oneDnn(), () -> ae.withTiling(Tiling.off()).plannedEncodeNativeBytes(64, 64));
        assertEquals(4L * 32 * 64 * 64 + 4L * 32 * 64 * 64, buffers);
    }
}
