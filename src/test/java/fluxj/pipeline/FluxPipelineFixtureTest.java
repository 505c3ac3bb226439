package fluxj.pipeline;

import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The real components behind the library API, against the intermediates of the reference. */
class FluxPipelineFixtureTest {
    // No network in tests: an endpoint that refuses connections, so nothing is fetched by accident.
    private static final HubClient.Config NO_HUB = new HubClient.Config(URI.create("http://127.0.0.1:9"), Path.of("/nonexistent-hf-cache"), null, true, Duration.ofSeconds(1));

    @Test
    void perStepLatentsAndImageMatchTheReference() throws IOException {
        Path dir = Fixtures.caseDir("p01_schnell_diffusers");
        float[] latents = Npy.read(dir.resolve("latents.npy")).floats();
        List<float[]> seen = new ArrayList<>();
        ProgressListener l = new ProgressListener() {
            @Override
            public void step(Step s) { seen.add(s.latent().clone()); }
        };
        GenerationResult r;
        try (FluxPipeline p = FluxPipeline.open(ModelSource.of(Fixtures.model("flux1-tiny-schnell").toString()).withHub(NO_HUB), HubClient.Listener.NONE)) {
            assertEquals(4, p.model().defaultSteps());
            assertEquals(256, p.model().t5MaxLength());
            r = p.generate(GenerationRequest.builder("a photo of a cat sitting on a red sofa").size(64, 64).seed(42L).build(), l);
        }
        int n = latents.length / 4;
        for (int i = 0; i < 4; i++) {
            // float32 vs the reference's float32: ordering of sums differs; the fixture's own f32-vs-f64 spread on the
            // final latent is 5.5e-5, allow 20x that
            double d = Npy.maxAbsDiff(Arrays.copyOfRange(latents, i * n, (i + 1) * n), seen.get(i));
            assertTrue(d < 1.1e-3, "latent after step " + (i + 1) + " differs by " + d);
        }
        double psnr = r.image().psnr(PngFiles.readImage(dir.resolve("out.png")));
        assertTrue(psnr >= 55, "PSNR " + psnr);
        assertEquals("flux1-tiny-schnell", r.modelName());
        assertEquals(4, r.request().steps());
    }

    @Test
    void truncatedPromptsAreWarnedAbout() throws IOException {
        List<String> warnings = new ArrayList<>();
        ProgressListener l = new ProgressListener() {
            @Override
            public void warning(String m) { warnings.add(m); }
        };
        String longPrompt = "a red cube on a blue table ".repeat(20); // ~141 CLIP tokens, ~141 T5 tokens
        try (FluxPipeline p = FluxPipeline.open(ModelSource.of(Fixtures.model("flux1-tiny-schnell").toString()).withHub(NO_HUB), HubClient.Listener.NONE)) {
            p.generate(GenerationRequest.builder(longPrompt).size(16, 16).steps(1).seed(1L).build(), l);
            assertEquals(1, warnings.size(), warnings.toString());
            assertTrue(warnings.getFirst().contains("CLIP reads the first 77") && warnings.getFirst().contains("T5 reads all"), warnings.getFirst());
            warnings.clear();
            p.generate(GenerationRequest.builder(longPrompt.repeat(2)).size(16, 16).steps(1).seed(1L).build(), l);
            assertTrue(warnings.stream().anyMatch(w -> w.contains("T5 tokens") && w.contains("256")), warnings.toString());
        }
    }

    @Test
    void singleFileWithPartsBesideItNeedsOnlyTokenizers() throws IOException {
        Path single = Fixtures.model("flux1-tiny-schnell-single");
        ModelFiles f = ModelSource.of(single.resolve("flux1-schnell.safetensors").toString())
                .withParts(null, null, null, Fixtures.model("flux1-tiny-schnell/tokenizer"), Fixtures.model("flux1-tiny-schnell/tokenizer_2"), null)
                .withHub(NO_HUB).resolve(HubClient.Listener.NONE);
        assertEquals(single.resolve("ae.safetensors"), f.vae());
        assertEquals(single.resolve("clip_l.safetensors"), f.clip());
        assertEquals(single.resolve("t5xxl_fp16.safetensors"), f.t5());
        assertEquals("flux1-schnell", f.name());
    }
}
