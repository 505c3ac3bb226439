package fluxj.server;

import fluxj.io.Json;
import fluxj.pipeline.FluxPipeline;
import fluxj.pipeline.GenerationRequest;
import fluxj.pipeline.HubClient;
import fluxj.pipeline.Infotext;
import fluxj.pipeline.ModelSource;
import fluxj.pipeline.ProgressListener;
import fluxj.pipeline.RgbImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * AUTOMATIC1111's interrupt and skip end to end on the tiny schnell model: the request answers 200 with the image
 * decoded from the clean estimate of the step where it stopped, as A1111 does. The transformer takes a permit per
 * call, so the test interrupts exactly while step {@code k + 1} waits, never by timing.
 */
class A1111InterruptTest {
    private static final String PROMPT = "a photo of a cat sitting on a red sofa";
    @TempDir
    Path dir;
    /** What the library makes for the same request finished at step {@code at} (the decode of that step's estimate). */
    private static RgbImage expected(long seed, int at) throws IOException {
        try (FluxPipeline p = FluxPipeline.open(ModelSource.of(TestServer.tinyModel().toString()), HubClient.Listener.NONE)) {
            float[][] estimate = new float[1][];
            RgbImage image = p.generate(GenerationRequest.builder(PROMPT).size(64, 64).steps(4).seed(seed).build(), new ProgressListener() {
                int steps;

                @Override
                public void step(Step s) {
                    steps = s.step();
                    estimate[0] = s.denoised().clone();
                }

                @Override
                public boolean finishEarly() { return steps >= at; }
            }).image();
            assertEquals(Double.POSITIVE_INFINITY, image.psnr(p.decode(estimate[0], 64, 64)), "the library's early image is its estimate's decode");
            return image;
        }
    }

    private static String body(long seed, int batch) {
        return "{\"prompt\": \"" + PROMPT + "\", \"width\": 64, \"height\": 64, \"steps\": 4, \"seed\": " + seed + ", \"batch_size\": " + batch + "}";
    }

    @Test
    void anInterruptedTxt2imgAnswersTheImageOfTheStepItStoppedAt() throws Exception {
        try (GatedServer g = new GatedServer(dir)) {
            TestServer s = g.server;
            CompletableFuture<TestServer.Response> txt2img = CompletableFuture.supplyAsync(() -> s.post("/sdapi/v1/txt2img", body(42, 2)));
            g.hold(0, 2, 2); // an interrupt now stops the image after step 3, the step under way
            assertEquals(200, s.post("/sdapi/v1/interrupt", "").status());
            g.open();
            TestServer.Response r = txt2img.get(60, TimeUnit.SECONDS);
            assertEquals(200, r.status(), r.text());
            List<?> images = (List<?>) r.json().get("images");
            assertEquals(1, images.size(), "the second image of the batch is not started");
            byte[] png = TestServer.b64(images.getFirst());
            Infotext params = Infotext.parse(TestServer.parameters(png));
            assertEquals("3", params.fields().get(Infotext.STOPPED_AT));
            assertEquals(Double.POSITIVE_INFINITY, TestServer.png(png).psnr(expected(42, 3)));
            assertEquals("4", params.fields().get("Steps"));
            Map<?, ?> info = (Map<?, ?>) Json.parse((String) r.json().get("info"));
            assertEquals(List.of(42L), info.get("all_seeds"));
            assertEquals(TestServer.parameters(png), ((List<?>) info.get("infotexts")).getFirst());
        }
    }

    @Test
    void aSkippedImageIsKeptAsItIsAndTheNextIsMadeInFull() throws Exception {
        try (GatedServer g = new GatedServer(dir)) {
            TestServer s = g.server;
            TestServer.CliImage second = TestServer.cli(dir, TestServer.tinyModel(), PROMPT, 64, 8, 4);
            CompletableFuture<TestServer.Response> txt2img = CompletableFuture.supplyAsync(() -> s.post("/sdapi/v1/txt2img", body(7, 2)));
            g.hold(0, 1, 1);
            assertEquals(200, s.post("/sdapi/v1/skip", "").status());
            g.open();
            TestServer.Response r = txt2img.get(60, TimeUnit.SECONDS);
            assertEquals(200, r.status(), r.text());
            List<?> images = (List<?>) r.json().get("images");
            assertEquals(2, images.size());
            byte[] first = TestServer.b64(images.getFirst());
            assertEquals("2", Infotext.parse(TestServer.parameters(first)).fields().get(Infotext.STOPPED_AT));
            assertEquals(Double.POSITIVE_INFINITY, TestServer.png(first).psnr(expected(7, 2)));
            TestServer.assertSameAsCli(second, TestServer.b64(images.get(1)));
        }
    }
}
