package fluxj.condition;

import fluxj.io.Checkpoint;
import fluxj.pipeline.LatentEncoder;
import fluxj.pipeline.Latents;
import fluxj.sampling.Schedule;
import fluxj.testing.Fixtures;
import fluxj.testing.ImageCases;
import fluxj.testing.Npy;
import fluxj.vae.AutoEncoder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The prepared conditioning of every image case, with the real VAE encoder, against the reference's intermediates. */
class ImageConditioningFixtureTest {
    static Checkpoint ck;
    static AutoEncoder ae;

    @BeforeAll
    static void load() throws IOException {
        ck = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/ae.safetensors"));
        ae = AutoEncoder.load(ck, null);
    }

    @AfterAll
    static void close() {
        if (ck != null) ck.close();
    }

    /**
     * Whether bf16-rounded values agree but for roundings moved by float32 noise: each element within the
     * unrounded values' spread {@code noise} plus one bf16 ulp (the encoders' float32-vs-float64 spread is 1e-6
     * for 64x64 images, 8e-5 for the 1-MP reference; see the calibration).
     */
    static void assertWithinOneBf16Ulp(float[] want, float[] got, double noise, String what) {
        assertEquals(want.length, got.length, what);
        int flipped = 0;
        for (int i = 0; i < want.length; i++) {
            if (want[i] == got[i]) continue;
            float ulp = Math.ulp(Math.max(Math.abs(want[i]), Math.abs(got[i]))) * (1 << 16);
            assertTrue(Math.abs(want[i] - got[i]) <= ulp + noise, what + "[" + i + "]: " + got[i] + " vs " + want[i]);
            flipped++;
        }
        // a flip needs an unrounded value within float32 noise of a rounding boundary: rare
        assertTrue(flipped <= want.length / 100 + 1, what + ": " + flipped + " of " + want.length + " roundings differ");
    }

    @Test
    void preparedConditioningMatchesTheReference() throws IOException {
        LatentEncoder enc = ae::encode;
        for (Map<String, Object> c : ImageCases.all()) {
            String id = (String) c.get("id"), mode = (String) c.get("mode");
            Path dir = ImageCases.dir(c);
            int w = ((Number) c.get("width")).intValue(), h = ((Number) c.get("height")).intValue(), steps = ((Number) c.get("steps")).intValue();
            Schedule schedule = "dev".equals(c.get("variant")) ? Schedule.DEV : Schedule.SCHNELL;
            float[] full = schedule.timesteps(steps, (h / 16) * (w / 16));
            ModelInput input = ModelInput.of(((Number) c.get("transformer_in_channels")).intValue(), 64);
            ImageConditioning p = ImageConditioning.prepare(ImageCases.conditions(c), input, enc, w, h, 16,
                    Npy.read(dir.resolve("noise.npy")).floats(), full, note -> { throw new AssertionError("no case resizes: " + note); });
            Map<?, ?> cal = (Map<?, ?>) c.get("calibration");

            assertArrayEquals(Npy.read(dir.resolve("timesteps.npy")).floats(), p.timesteps(), 0f, id + " timesteps");
            assertEquals(Latents.imageIds(h / 16, w / 16).length / 3 + p.referenceIds().length / 3, p.tokens(), id);
            switch (mode) {
                case "img2img", "inpaint" -> {
                    assertArrayEquals(Npy.read(dir.resolve("timesteps_full.npy")).floats(), full, 0f, id + " full schedule");
                    // f32 encoder against the reference's f32: summation order only; the f32-vs-f64 spread is 1.5e-6..2e-6
                    double tol = 5 * ((Number) cal.get("max_abs_init_latent_diff")).doubleValue();
                    assertTrue(Npy.maxAbsDiff(Npy.read(dir.resolve("init_latent.npy")).floats(), p.initLatent()) <= tol, id + " init latent");
                    assertTrue(Npy.maxAbsDiff(Npy.read(dir.resolve("start_latent.npy")).floats(), p.startLatent()) <= tol, id + " start latent");
                    if (mode.equals("inpaint")) assertArrayEquals(Npy.read(dir.resolve("mask_packed.npy")).floats(), p.repaintMask(), 0f, id + " mask");
                }
                // the unrounded latents' float32 spread, twice the calibration's f32-vs-f64 maximum
                case "fill" -> assertWithinOneBf16Ulp(Npy.read(dir.resolve("img_cond.npy")).floats(), p.channelConditioning(),
                        2 * ((Number) cal.get("max_abs_masked_image_latent_diff")).doubleValue(), id + " img_cond");
                case "control" -> assertWithinOneBf16Ulp(Npy.read(dir.resolve("img_cond.npy")).floats(), p.channelConditioning(),
                        2 * ((Number) cal.get("max_abs_control_latent_diff")).doubleValue(), id + " img_cond");
                case "kontext" -> {
                    assertWithinOneBf16Ulp(Npy.read(dir.resolve("ref_packed.npy")).floats(), p.referenceTokens(),
                            2 * ((Number) cal.get("max_abs_ref_latent_diff")).doubleValue(), id + " ref_packed");
                    assertArrayEquals(Npy.read(dir.resolve("ref_ids.npy")).floats(), p.referenceIds(), 0f, id + " ref_ids");
                }
                default -> throw new AssertionError(mode);
            }
        }
    }
}
