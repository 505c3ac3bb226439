package fluxj.flux;

import fluxj.io.Checkpoint;
import fluxj.io.Json;
import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The transformer against the reference velocities of the public cases, step by step through the Euler loop.
 *
 * <p>Tolerance: the reference's own float32 run differs from its float64 run by up to 1.3e-4 in the first
 * velocity (meta.json), i.e. float32 rounding alone moves velocities by ~1e-4. A float32 port summing in another
 * order lands within that spread of the float32 reference; 2e-4 (about 1% of the velocities' typical size of
 * ~1) allows that and still fails on any real error (a swapped chunk, a wrong rope axis or a missing 1000x
 * time factor move velocities by 1e-2 or more).
 */
class FluxTransformerFixtureTest {
    static final double TOL = 2e-4;

    @Test
    void diffusersFolderMatchesReference() throws IOException {
        Path dir = Fixtures.model("flux1-tiny-schnell/transformer");
        try (Checkpoint ck = Checkpoint.open(dir)) {
            FluxTransformer t = FluxTransformer.load(ck, Json.readObject(dir.resolve("config.json")));
            assertEquals(128, t.config().hidden());
            runCase(t, "p01_schnell_diffusers");
        }
    }

    @Test
    void singleFileMatchesReference() throws IOException {
        try (Checkpoint ck = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell.safetensors"))) {
            FluxTransformer t = FluxTransformer.load(ck, null);
            FluxConfig c = t.config();
            assertEquals(1, c.heads());
            assertEquals(1, c.depth());
            assertEquals(2, c.depthSingle());
            assertEquals(512, c.mlpHidden());
            assertEquals(64, c.inChannels());
            assertEquals(64, c.contextDim());
            assertEquals(64, c.vecDim());
            assertFalse(c.guidanceEmbed());
            assertTrue(c.qkvBias());
            runCase(t, "p02_schnell_single_bf16");
        }
    }

    @Test
    void fp8FileMatchesItsReference() throws IOException {
        try (Checkpoint ck = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell-fp8-e4m3fn.safetensors"))) {
            runCase(FluxTransformer.load(ck, null), "p03_schnell_single_fp8");
        }
    }

    /** The diffusers folder and the BFL single file hold the same weights: one model, one result. */
    @Test
    void diffusersAndSingleFileAgree() throws IOException {
        Inputs in = Inputs.read("p02_schnell_single_bf16");
        float[] a, b;
        try (Checkpoint ck = Checkpoint.open(Fixtures.model("flux1-tiny-schnell/transformer"))) {
            a = in.velocity(FluxTransformer.load(ck, null), in.noise, 0);
        }
        try (Checkpoint ck = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell.safetensors"))) {
            b = in.velocity(FluxTransformer.load(ck, null), in.noise, 0);
        }
        // Same weights, same arithmetic: only the split of q/k/v into parts differs, which leaves every output's
        // dot product (and the kernels' results do not depend on JIT state), so the results are identical.
        assertArrayEquals(a, b, "diffusers vs single file");
    }

    /** ComfyUI saves the same tensors under model.diffusion_model.: the result must be identical. */
    @Test
    void comfyPrefixedFileGivesSameResult() throws IOException {
        Inputs in = Inputs.read("p02_schnell_single_bf16");
        try (Checkpoint ck = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell.safetensors"))) {
            Map<String, fluxj.tensor.Tensor> renamed = new java.util.LinkedHashMap<>();
            ck.tensors().forEach((k, v) -> renamed.put("model.diffusion_model." + k, v));
            renamed.put("vae.decoder.conv_in.weight", ck.get("img_in.weight"));
            Checkpoint comfy = Checkpoint.of("comfy-checkpoint", renamed);
            float[] a = in.velocity(FluxTransformer.load(ck, null), in.noise, 0);
            float[] b = in.velocity(FluxTransformer.load(comfy, null), in.noise, 0);
            // Same weights, same code: only JIT state differs between the calls, and the kernels give the same bits
            // compiled or not (VectorMath's lane sums and exp), so the results are identical.
            assertArrayEquals(a, b);
        }
    }

    static void runCase(FluxTransformer t, String id) {
        Inputs in = Inputs.read(id);
        Npy preds = Npy.read(Fixtures.caseDir(id).resolve("preds.npy"));
        Npy latents = Npy.read(Fixtures.caseDir(id).resolve("latents.npy"));
        int steps = in.timesteps.length - 1, n = in.noise.length;
        assertEquals(steps, preds.shape()[0]);
        float[] x = in.noise.clone();
        for (int i = 0; i < steps; i++) {
            float[] v = in.velocity(t, x, i);
            float[] expectedV = slice(preds.floats(), i, n);
            double dv = Npy.maxAbsDiff(v, expectedV);
            // Euler as BFL's denoise: the step size is a Python float cast to f32 when it multiplies the tensor.
            float dt = (float) (in.timesteps[i + 1] - in.timesteps[i]);
            for (int j = 0; j < n; j++) x[j] = x[j] + dt * v[j];
            double dx = Npy.maxAbsDiff(x, slice(latents.floats(), i, n));
            System.getLogger("test").log(System.Logger.Level.INFO, id + " step " + i + ": |dv| " + dv + " |dx| " + dx);
            assertTrue(dv <= TOL, id + " step " + i + ": velocity differs by " + dv);
            assertTrue(dx <= TOL, id + " step " + i + ": latent differs by " + dx);
        }
    }

    static float[] slice(float[] all, int i, int n) { return java.util.Arrays.copyOfRange(all, i * n, (i + 1) * n); }

    /** A case's transformer inputs: packed noise [16, 64] (a 4x4 grid of tokens), T5 and CLIP embeddings, schedule. */
    record Inputs(float[] noise, int imgLen, float[] imgIds, float[] txt, int txtLen, float[] vec, double[] timesteps) {
        static Inputs read(String id) {
            Path d = Fixtures.caseDir(id);
            Npy noise = Npy.read(d.resolve("noise_packed.npy")), t5 = Npy.read(d.resolve("t5_emb.npy"));
            int imgLen = noise.shape()[1], side = (int) Math.round(Math.sqrt(imgLen));
            float[] ids = new float[imgLen * 3];
            for (int r = 0; r < side; r++) {
                for (int c = 0; c < side; c++) {
                    ids[(r * side + c) * 3 + 1] = r;
                    ids[(r * side + c) * 3 + 2] = c;
                }
            }
            return new Inputs(noise.floats(), imgLen, ids, t5.floats(), t5.shape()[1],
                    Npy.read(d.resolve("clip_pooled.npy")).floats(), Npy.read(d.resolve("timesteps.npy")).data());
        }

        float[] velocity(FluxTransformer t, float[] x, int step) {
            return t.forward(x, imgLen, imgIds, txt, txtLen, new float[txtLen * 3], (float) timesteps[step], vec, 0f);
        }
    }
}
