package fluxj.server;

import fluxj.io.Json;
import fluxj.pipeline.FluxPipeline;
import fluxj.pipeline.GenerationRequest;
import fluxj.pipeline.HubClient;
import fluxj.pipeline.ModelSource;
import fluxj.pipeline.ProgressListener;
import fluxj.pipeline.RgbImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * The live previews of A1111's {@code /sdapi/v1/progress} and of the jobs API's step events (the web page shows the
 * latter) are the latent-to-RGB projection of each step's clean estimate, as AUTOMATIC1111 previews the denoised
 * prediction, not of the noisy latent. On the tiny schnell model, whose transformer takes a permit per call, so the
 * test reads the progress exactly at step k.
 */
class LivePreviewTest {
    private static final String PROMPT = "a photo of a cat sitting on a red sofa";
    private static final int SIZE = 64, STEPS = 4;
    @TempDir
    Path dir;
    /** Per step (index k - 1) of the library's generation of the same request: the preview of its clean estimate. */
    private static List<RgbImage> expected(long seed) throws IOException {
        List<RgbImage> estimate = new ArrayList<>(), latent = new ArrayList<>();
        int h = SIZE / 16, w = SIZE / 16;
        try (FluxPipeline p = FluxPipeline.open(ModelSource.of(TestServer.tinyModel().toString()), HubClient.Listener.NONE)) {
            int c = p.model().latentChannels();
            p.generate(GenerationRequest.builder(PROMPT).size(SIZE, SIZE).steps(STEPS).seed(seed).build(), new ProgressListener() {
                @Override
                public void step(Step s) {
                    estimate.add(Preview.of(s.denoised(), c, h, w));
                    latent.add(Preview.of(s.latent(), c, h, w));
                }
            });
        }
        assertEquals(STEPS, estimate.size());
        for (int k = 1; k < STEPS; k++) {
            // else the test could not tell the estimate's preview from the latent's
            assertFalse(Arrays.equals(estimate.get(k - 1).rgb(), latent.get(k - 1).rgb()), "step " + k + ": estimate and latent preview alike");
        }
        return estimate;
    }

    private static void assertPreview(RgbImage expected, byte[] png, String what) throws IOException {
        RgbImage got = TestServer.png(png);
        assertEquals(expected.width(), got.width(), what);
        assertEquals(expected.height(), got.height(), what);
        assertArrayEquals(expected.rgb(), got.rgb(), what + ": not the preview of the step's clean estimate");
    }

    @Test
    void a1111ProgressShowsEachStepsCleanEstimate() throws Exception {
        List<RgbImage> e = expected(42);
        try (GatedServer g = new GatedServer(dir)) {
            TestServer s = g.server;
            CompletableFuture<TestServer.Response> txt2img = CompletableFuture.supplyAsync(() -> s.post("/sdapi/v1/txt2img",
                    "{\"prompt\": \"" + PROMPT + "\", \"width\": " + SIZE + ", \"height\": " + SIZE + ", \"steps\": " + STEPS + ", \"seed\": 42}"));
            for (int k = 1; k < STEPS; k++) {
                g.hold(0, k, 1);
                Map<String, Object> progress = s.get("/sdapi/v1/progress").json();
                assertEquals((long) k, ((Map<?, ?>) progress.get("state")).get("sampling_step"));
                assertPreview(e.get(k - 1), TestServer.b64(progress.get("current_image")), "A1111 progress at step " + k);
            }
            g.open();
            assertEquals(200, txt2img.get(60, TimeUnit.SECONDS).status());
        }
    }

    @Test
    void jobsApiStepEventsCarryEachStepsCleanEstimate() throws Exception {
        List<RgbImage> e = expected(5);
        try (GatedServer g = new GatedServer(dir)) {
            TestServer s = g.server;
            TestServer.Response r = s.post("/fluxj/v1/jobs",
                    "{\"prompt\": \"" + PROMPT + "\", \"width\": " + SIZE + ", \"height\": " + SIZE + ", \"steps\": " + STEPS + ", \"seed\": 5}");
            assertEquals(202, r.status(), r.text());
            String id = (String) r.json().get("id");
            s.awaitStatus(id, "running");
            HttpResponse<Stream<String>> stream = s.client().sendAsync(HttpRequest.newBuilder(s.uri("/fluxj/v1/jobs/" + id + "/events")).build(),
                    HttpResponse.BodyHandlers.ofLines()).get(30, TimeUnit.SECONDS);
            g.open();
            List<String> lines = stream.body().toList();
            List<String> names = lines.stream().filter(l -> l.startsWith("event: ")).map(l -> l.substring(7)).toList();
            List<Map<?, ?>> data = lines.stream().filter(l -> l.startsWith("data: ")).<Map<?, ?>>map(l -> (Map<?, ?>) Json.parse(l.substring(6))).toList();
            assertEquals("done", names.getLast(), names.toString());
            List<Map<?, ?>> steps = new ArrayList<>();
            for (int i = 0; i < names.size(); i++) if (names.get(i).equals("step")) steps.add(data.get(i));
            assertEquals(STEPS, steps.size(), names.toString());
            for (Map<?, ?> step : steps) {
                int k = ((Number) step.get("step")).intValue();
                String url = (String) step.get("preview");
                String prefix = "data:image/png;base64,";
                assertEquals(prefix, url.substring(0, prefix.length()));
                assertPreview(e.get(k - 1), Base64.getDecoder().decode(url.substring(prefix.length())), "jobs API step " + k);
            }
        }
    }
}
