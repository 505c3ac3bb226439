package fluxj.pipeline;

import fluxj.io.Checkpoint;
import fluxj.memory.ImageInputs;
import fluxj.memory.MemoryPlan;
import fluxj.memory.Phase;
import fluxj.memory.Planner;
import fluxj.memory.Sizing;
import fluxj.testing.Fixtures;
import fluxj.vae.AutoEncoder;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The memory plan of a request with input images: the encode-images phase and the transformer's reference tokens. */
class ImagePlanTest {
    private static final HubClient.Config NO_HUB = new HubClient.Config(URI.create("http://127.0.0.1:9"), Path.of("/nonexistent-hf-cache"), null, true, Duration.ofSeconds(1));
    private static final String PROMPT = "a photo of a cat sitting on a red sofa";
    private static final ImageInputs.Size MP1 = new ImageInputs.Size(1024, 1024);

    private static FluxPipeline open() throws IOException {
        return FluxPipeline.open(ModelSource.of(Fixtures.model("flux1-tiny-schnell").toString()).withHub(NO_HUB), HubClient.Listener.NONE);
    }

    @Test
    void inputImagesAddAnEncodePhaseWithTheLargestEncodesWorkspace() throws Exception {
        Path vaeDir = Fixtures.model("flux1-tiny-schnell/vae");
        try (FluxPipeline p = open(); Checkpoint ck = Checkpoint.open(vaeDir)) {
            AutoEncoder ae = AutoEncoder.load(ck, fluxj.io.Json.readObject(vaeDir.resolve("config.json")));
            GenerationRequest r = GenerationRequest.builder(PROMPT).size(64, 64).seed(42L).build();
            MemoryPlan none = p.plan(r);
            assertFalse(none.phasePeaks().containsKey(Phase.ENCODE_IMAGES), none::render);
            assertThrows(IllegalArgumentException.class, () -> none.entry("vae-encoder"));

            ImageInputs two = new ImageInputs(List.of(new ImageInputs.Size(64, 64), new ImageInputs.Size(512, 768)), 0);
            MemoryPlan plan = p.plan(r, two);
            MemoryPlan.Entry enc = plan.entry("vae-encoder");
            assertEquals(Phase.ENCODE_IMAGES, enc.component().phase());
            assertEquals(ae.plannedEncodeBytes(768, 512) + ae.plannedEncodeNativeBytes(768, 512), enc.component().workspaceBytes());
            assertEquals(ae.encodeWeightCopyBytes(), enc.component().copyBytes());
            // The two halves of the autoencoder together are its whole file's tensors, each counted once.
            assertEquals(Sizing.tensorBytes(ck), enc.component().fileBytes() + plan.entry("vae").component().fileBytes());
            assertTrue(enc.component().fileBytes() > 0 && plan.entry("vae").component().fileBytes() > enc.component().fileBytes());
            assertTrue(plan.render().contains("encode images"), plan::render);
            // Everything fits the default budget: all parts stay, the peak counts the largest workspace once.
            assertTrue(plan.keepAll(), plan::render);
            long weights = plan.entries().stream().mapToLong(MemoryPlan.Entry::residentBytes).sum();
            long work = plan.entries().stream().mapToLong(e -> e.component().workspaceBytes()).max().orElseThrow();
            assertEquals(Planner.JVM_BASELINE + weights + work, plan.peak());
        }
    }

    @Test
    void referenceTokensJoinTheTransformersSequence() throws IOException {
        try (FluxPipeline p = open()) {
            GenerationRequest r = GenerationRequest.builder(PROMPT).size(1024, 1024).seed(42L).build();
            long plain = p.plan(r).entry("transformer").component().workspaceBytes();
            // Kontext at 1024x1024 with one 1024x1024 reference: 4096 reference tokens beside the 4096 image tokens.
            MemoryPlan kontext = p.plan(r, new ImageInputs(List.of(MP1), 4096));
            long withRefs = kontext.entry("transformer").component().workspaceBytes();
            long perToken = Sizing.transformerWorkspace(2, 128, 512) - Sizing.transformerWorkspace(1, 128, 512);
            assertEquals(4096 * perToken, withRefs - plain);
            assertTrue(kontext.phasePeaks().get(Phase.ENCODE_IMAGES) > 0, kontext::render);
        }
    }

    @Test
    void tightBudgetReleasesTheEncoderBeforeDenoising() throws IOException {
        try (FluxPipeline p = open()) {
            GenerationRequest r = GenerationRequest.builder(PROMPT).size(64, 64).seed(42L).build();
            ImageInputs one = new ImageInputs(List.of(new ImageInputs.Size(64, 64)), 16);
            MemoryPlan roomy = p.plan(r, one);
            long largestPhase = roomy.phasePeaks().values().stream().mapToLong(Long::longValue).max().orElseThrow();
            long weights = roomy.entries().stream().mapToLong(MemoryPlan.Entry::residentBytes).sum();
            long largestPart = roomy.entries().stream().mapToLong(MemoryPlan.Entry::residentBytes).max().orElseThrow();
            MemoryPlan tight = p.plan(r.toBuilder().memoryBudget(largestPhase - weights + largestPart + (1 << 20)).build(), one);
            assertFalse(tight.keepAll(), tight::render);
            assertTrue(tight.fits(), tight::render);
            MemoryPlan.Entry enc = tight.entry("vae-encoder");
            assertEquals(Planner.JVM_BASELINE + enc.residentBytes() + enc.component().workspaceBytes(), tight.phasePeaks().get(Phase.ENCODE_IMAGES));
        }
    }
}
