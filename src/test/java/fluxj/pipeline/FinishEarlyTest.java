package fluxj.pipeline;

import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ProgressListener#finishEarly()} on the tiny schnell model: the image is the decode of the step's clean
 * estimate, bit for bit, and its parameters say where it stopped.
 */
class FinishEarlyTest {
    private static final GenerationRequest REQUEST = GenerationRequest.builder("a photo of a cat sitting on a red sofa")
            .size(64, 64).steps(4).seed(42L).build();

    /** Keeps a copy of every step's latent and estimate, and finishes early once {@code at} steps are done. */
    private static final class Recorder implements ProgressListener {
        final int at;
        final List<float[]> latents = new ArrayList<>(), denoised = new ArrayList<>();

        Recorder(int at) { this.at = at; }

        @Override
        public void step(Step s) {
            latents.add(s.latent().clone());
            denoised.add(s.denoised().clone());
        }

        @Override
        public boolean finishEarly() { return latents.size() >= at; }
    }

    @Test
    void finishedAtAStepTheImageIsTheDecodeOfThatStepsEstimate() throws IOException {
        try (FluxPipeline pipeline = FluxPipeline.open(ModelSource.of(Fixtures.model("flux1-tiny-schnell").toString()), HubClient.Listener.NONE)) {
            Recorder full = new Recorder(Integer.MAX_VALUE);
            GenerationResult whole = pipeline.generate(REQUEST, full);
            assertEquals(0, whole.stoppedAt());
            assertFalse(whole.stoppedEarly());
            assertFalse(whole.infotext().fields().containsKey(Infotext.STOPPED_AT));
            // at the last step (t = 0) the estimate is the latent itself, which the finished image decodes
            assertArrayEquals(full.latents.getLast(), full.denoised.getLast(), 0f);
            assertEquals(Double.POSITIVE_INFINITY, whole.image().psnr(pipeline.decode(full.latents.getLast(), 64, 64)));

            Recorder two = new Recorder(2);
            GenerationResult stopped = pipeline.generate(REQUEST, two);
            assertEquals(2, two.latents.size(), "no step after the one it finished at");
            assertEquals(2, stopped.stoppedAt());
            assertTrue(stopped.stoppedEarly());
            // the steps it made are the full run's (same seed), and its image is exactly the decode of step 2's estimate
            assertArrayEquals(full.latents.get(1), two.latents.get(1), 0f);
            assertEquals(Double.POSITIVE_INFINITY, stopped.image().psnr(pipeline.decode(two.denoised.get(1), 64, 64)));
            // which is not the noisy latent's decode, nor the finished image
            assertNotEquals(Double.POSITIVE_INFINITY, stopped.image().psnr(pipeline.decode(two.latents.get(1), 64, 64)));
            assertNotEquals(Double.POSITIVE_INFINITY, stopped.image().psnr(whole.image()));

            Infotext info = Infotext.parse(stopped.infotext().format());
            assertEquals("2", info.fields().get(Infotext.STOPPED_AT));
            assertEquals("4", info.fields().get("Steps"));
            assertEquals(Infotext.VERSION, info.fields().get("Version"));
        }
    }
}
