package fluxj.pipeline;

import fluxj.sampling.Schedule;
import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pipeline's own logic (noise, packing, schedule, Euler, CFG, unpacking, 8-bit conversion) with fake models. */
class FluxPipelineTest {
    private static final ModelInfo SCHNELL = new ModelInfo("fake", () -> "0000000000", false, 16, 256, Schedule.SCHNELL);
    private static final Conditioning COND = new Conditioning(new float[4], 1, new float[4], List.of());

    @Test
    void replayedVelocitiesReproduceEveryFixtureIntermediate() throws IOException {
        for (String id : List.of("p01_schnell_diffusers", "p03_schnell_single_fp8")) {
            Path dir = Fixtures.caseDir(id);
            Npy preds = Npy.read(dir.resolve("preds.npy")), latents = Npy.read(dir.resolve("latents.npy"));
            int steps = preds.shape()[0], n = preds.data().length / steps;
            float[] noisePacked = Npy.read(dir.resolve("noise_packed.npy")).floats();
            float[] timesteps = Npy.read(dir.resolve("timesteps.npy")).floats();
            float[] allPreds = preds.floats(), allLatents = latents.floats();
            AtomicInteger call = new AtomicInteger();
            Denoiser replay = (img, tokens, ids, t, cond, g) -> {
                int i = call.getAndIncrement();
                // the latent the reference fed the model at this step, and its timestep: bit-exact (same float32 ops)
                float[] expectIn = i == 0 ? noisePacked : Arrays.copyOfRange(allLatents, (i - 1) * n, i * n);
                assertArrayEquals(expectIn, img, 0f, id + " input of step " + i);
                assertEquals(timesteps[i], t, 0f);
                assertEquals(16, tokens);
                assertArrayEquals(Latents.imageIds(4, 4), ids, 0f);
                return Arrays.copyOfRange(allPreds, i * n, (i + 1) * n);
            };
            float[] finalLatent = Npy.read(dir.resolve("final_latent.npy")).floats();
            float[] decoded = Npy.read(dir.resolve("decoded.npy")).floats();
            LatentDecoder decoder = (z, h, w) -> {
                assertArrayEquals(finalLatent, z, 0f, id + " final latent");
                assertEquals(8, h);
                return decoded;
            };
            List<float[]> seen = new ArrayList<>();
            ProgressListener l = new ProgressListener() {
                @Override
                public void step(Step s) { seen.add(s.latent().clone()); }
            };
            int seed = id.startsWith("p01") ? 42 : 7;
            GenerationResult r = new FluxPipeline(new FluxPipeline.Parts(SCHNELL, p -> COND, replay, decoder, null, null))
                    .generate(GenerationRequest.builder("p").size(64, 64).steps(steps).seed((long) seed).build(), l);
            assertEquals(steps, seen.size());
            for (int i = 0; i < steps; i++) assertArrayEquals(Arrays.copyOfRange(allLatents, i * n, (i + 1) * n), seen.get(i), 0f, id + " latent " + i);
            assertArrayEquals(PngFiles.readImage(dir.resolve("out.png")).rgb(), r.image().rgb(), id);
            assertEquals(3.5, r.request().guidance());
        }
    }

    @Test
    void cfgIntervalSkipsNegativePassesOutsideIt() {
        Conditioning neg = new Conditioning(new float[4], 1, new float[]{1, 1, 1, 1}, List.of());
        AtomicInteger posCalls = new AtomicInteger(), negCalls = new AtomicInteger();
        List<Float> negTimes = new ArrayList<>();
        Denoiser d = (img, tokens, ids, t, cond, g) -> {
            if (cond == neg) {
                negCalls.incrementAndGet();
                negTimes.add(t);
            } else {
                posCalls.incrementAndGet();
            }
            return new float[img.length];
        };
        TextConditioner text = p -> p.equals("bad") ? neg : COND;
        FluxPipeline pipe = new FluxPipeline(new FluxPipeline.Parts(SCHNELL, text, d, (z, h, w) -> new float[3 * 64 * h * w], null, null));
        GenerationRequest r = GenerationRequest.builder("good").size(32, 32).steps(4).seed(1L).negativePrompt("bad").cfgScale(4).build();

        pipe.generate(r.toBuilder().guidanceInterval(0.3, 0.8).build(), ProgressListener.NONE);
        // schedule 1, 0.75, 0.5, 0.25: only t = 0.75 and 0.5 lie in (0.3, 0.8]: 4 + 2 passes instead of 8
        assertEquals(4, posCalls.get());
        assertEquals(2, negCalls.get());
        assertEquals(List.of(0.75f, 0.5f), negTimes);

        posCalls.set(0);
        negCalls.set(0);
        pipe.generate(r, ProgressListener.NONE); // default interval (0, 1]: every step guided
        assertEquals(4, negCalls.get());

        negCalls.set(0);
        pipe.generate(r.toBuilder().cfgScale(1).build(), ProgressListener.NONE); // CFG off: no negative pass
        assertEquals(0, negCalls.get());
    }

    @Test
    void devModelsDefaultTo28ShiftedStepsWithGuidance() {
        ModelInfo dev = new ModelInfo("fake-dev", () -> "0000000000", true, 16, 512, Schedule.DEV);
        List<Float> times = new ArrayList<>();
        List<Float> guidances = new ArrayList<>();
        Denoiser d = (img, tokens, ids, t, cond, g) -> {
            times.add(t);
            guidances.add(g);
            return new float[img.length];
        };
        GenerationResult r = new FluxPipeline(new FluxPipeline.Parts(dev, p -> COND, d, (z, h, w) -> new float[3 * 64 * h * w], null, null))
                .generate(GenerationRequest.builder("p").size(64, 32).seed(1L).build(), ProgressListener.NONE);
        assertEquals(28, r.request().steps());
        float[] expected = Schedule.DEV.timesteps(28, 4 * 2); // 64x32 pixels = 4x2 tokens
        for (int i = 0; i < 28; i++) assertEquals(expected[i], times.get(i), 0f);
        assertTrue(guidances.stream().allMatch(g -> g == 3.5f));
    }

    @Test
    void defaultsAndWarningsAreReported() {
        List<String> warnings = new ArrayList<>();
        Conditioning truncated = new Conditioning(new float[4], 1, new float[4], List.of("prompt truncated"));
        FluxPipeline pipe = new FluxPipeline(new FluxPipeline.Parts(SCHNELL, p -> truncated,
                (img, tokens, ids, t, c, g) -> new float[img.length], (z, h, w) -> new float[3 * 64 * h * w], null, null));
        ProgressListener l = new ProgressListener() {
            @Override
            public void warning(String m) { warnings.add(m); }
        };
        GenerationResult r = pipe.generate(GenerationRequest.builder("p").size(16, 16).build(), l);
        assertEquals(4, r.request().steps());
        assertNotNull(r.request().seed());
        assertTrue(r.request().seed() >= 0 && r.request().seed() < (1L << 32));
        assertEquals(List.of("prompt truncated"), warnings);
        pipe.generate(GenerationRequest.builder("p").size(16, 16).build(), l); // same prompt: encoded once, warned once
        assertEquals(1, warnings.size());
    }
}
