package fluxj.pipeline;

import fluxj.memory.MemoryPlan;
import fluxj.memory.WeightDtype;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/** The memory manager changes when weights are mapped and in which dtype, never what a stored-dtype run computes. */
class MemoryManagedGenerationTest {
    private static final HubClient.Config NO_HUB = new HubClient.Config(URI.create("http://127.0.0.1:9"), Path.of("/nonexistent-hf-cache"), null, true, Duration.ofSeconds(1));
    private static final String PROMPT = "a photo of a cat sitting on a red sofa";

    private static FluxPipeline open() throws IOException {
        return FluxPipeline.open(ModelSource.of(Fixtures.model("flux1-tiny-schnell").toString()).withHub(NO_HUB), HubClient.Listener.NONE);
    }

    @Test
    void tightBudgetReleasesPartsInTurnAndKeepsTheImage() throws IOException {
        RgbImage expected = PngFiles.readImage(Fixtures.caseDir("p01_schnell_diffusers").resolve("out.png"));
        try (FluxPipeline p = open()) {
            GenerationRequest r = GenerationRequest.builder(PROMPT).size(64, 64).seed(42L).build();
            MemoryPlan roomy = p.plan(r);
            assertTrue(roomy.keepAll(), roomy::render);
            // Between the largest phase and the sum of all phases: the plan must load and release in turn.
            long tight = roomy.phasePeaks().values().stream().mapToLong(Long::longValue).max().orElseThrow()
                    - roomy.entries().stream().mapToLong(MemoryPlan.Entry::residentBytes).sum()
                    + roomy.entries().stream().mapToLong(MemoryPlan.Entry::residentBytes).max().orElseThrow() + (1 << 20);
            GenerationRequest tightRequest = r.toBuilder().memoryBudget(tight).build();
            MemoryPlan plan = p.plan(tightRequest);
            assertFalse(plan.keepAll(), plan::render);
            assertTrue(plan.fits(), plan::render);
            for (int i = 0; i < 2; i++) {
                double psnr = p.generate(tightRequest, ProgressListener.NONE).image().psnr(expected);
                assertTrue(psnr >= 55, "image " + i + ": PSNR " + psnr);
            }
        }
    }

    // The Java path's convolutions keep a tap-major copy, in the stored dtype, of every 3x3 decoder weight: 996192
    // parameters in the fixture VAE (derived in fluxj.vae.DecodeMemoryTest), BF16 in this diffusers folder, resident
    // beside the file while the VAE is loaded.
    @Test
    void vaeResidentBytesCountItsWeightCopies() throws IOException {
        try (FluxPipeline p = open()) {
            MemoryPlan.Entry vae = p.plan(GenerationRequest.builder(PROMPT).size(64, 64).seed(42L).build()).entry("vae");
            assertEquals(2 * 996_192L, vae.component().copyBytes());
            assertEquals(vae.component().fileBytes() + 2 * 996_192L, vae.residentBytes());
        }
    }

    @Test
    void impossibleBudgetFailsBeforeComputingWithTheAdvice() throws IOException {
        try (FluxPipeline p = open()) {
            GenerationRequest r = GenerationRequest.builder(PROMPT).size(64, 64).seed(42L).memoryBudget(64L << 20).build();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> p.generate(r, ProgressListener.NONE));
            assertTrue(e.getMessage().contains("does not fit") && e.getMessage().contains("--memory-budget"), e.getMessage());
        }
    }

    @Test
    void fp8ConversionCostsMeasuredAccuracy(@TempDir Path cache) throws IOException {
        RgbImage expected = PngFiles.readImage(Fixtures.caseDir("p01_schnell_diffusers").resolve("out.png"));
        String old = System.getProperty("fluxj.cache");
        System.setProperty("fluxj.cache", cache.toString());
        try (FluxPipeline p = open()) {
            GenerationRequest r = GenerationRequest.builder(PROMPT).size(64, 64).seed(42L).weightDtype(WeightDtype.FP8).build();
            assertEquals(WeightDtype.FP8, p.plan(r).entry("transformer").dtype());
            double psnr = p.generate(r, ProgressListener.NONE).image().psnr(expected);
            // Measured 35.9 dB: e4m3 keeps 3 mantissa bits. Well below the f32 path's 89 dB, far above noise (~10 dB).
            assertTrue(psnr > 33 && psnr < 55, "PSNR " + psnr);
            try (var files = Files.list(cache.resolve("fp8"))) {
                assertEquals(1, files.count(), "the converted weights are cached once");
            }
        } finally {
            if (old == null) System.clearProperty("fluxj.cache"); else System.setProperty("fluxj.cache", old);
        }
    }
}
