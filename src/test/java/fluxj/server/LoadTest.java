package fluxj.server;

import fluxj.pipeline.FluxPipeline;
import fluxj.pipeline.GenerationRequest;
import fluxj.pipeline.HubClient;
import fluxj.pipeline.ModelSource;
import fluxj.pipeline.ProgressListener;
import fluxj.pipeline.RgbImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 32 clients at once against a queue of 8 on the tiny model: every request is either answered with its image,
 * equal to what the library makes for the same request, or refused with 429 and Retry-After; nothing hangs and the
 * server stays up.
 */
class LoadTest {
    private static final int CLIENTS = 32, QUEUE = 8, STEPS = 2;
    private static final String PROMPT = "a lighthouse at dawn";
    @TempDir
    Path dir;

    @Test
    void concurrentClientsGetTheirImageOrA429() throws Exception {
        FluxServer.Config base = TestServer.config(dir.resolve("out"));
        FluxServer.Config config = new FluxServer.Config(base.host(), 0, null, false, null, base.outputDir(), QUEUE, base.limits(), base.settings());
        try (TestServer server = TestServer.start(config, TestServer.tiny());
             FluxPipeline library = FluxPipeline.open(ModelSource.of(TestServer.tinyModel().toString()), HubClient.Listener.NONE);
             ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<TestServer.Response>> replies = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                int seed = 1000 + i;
                replies.add(clients.submit(() -> {
                    go.await();
                    return server.post("/v1/images/generations", """
                            {"prompt": "%s", "size": "64x64", "seed": %d, "steps": %d}""".formatted(PROMPT, seed, STEPS));
                }));
            }
            List<TestServer.Response> answered = assertTimeoutPreemptively(Duration.ofMinutes(5), () -> {
                go.countDown();
                List<TestServer.Response> all = new ArrayList<>();
                for (Future<TestServer.Response> f : replies) all.add(f.get());
                return all;
            });
            int accepted = 0, refused = 0;
            for (int i = 0; i < CLIENTS; i++) {
                TestServer.Response r = answered.get(i);
                if (r.status() == 429) {
                    refused++;
                    assertTrue(Long.parseLong(r.headers().firstValue("Retry-After").orElseThrow()) >= 1);
                    continue;
                }
                assertEquals(200, r.status(), r.text());
                accepted++;
                byte[] png = TestServer.b64(((Map<?, ?>) ((List<?>) r.json().get("data")).getFirst()).get("b64_json"));
                RgbImage expected = library.generate(GenerationRequest.builder(PROMPT).size(64, 64).seed(1000L + i).steps(STEPS).build(), ProgressListener.NONE).image();
                assertArrayEquals(expected.rgb(), TestServer.png(png).rgb(), "client " + i + ": not the library's image for its seed");
            }
            // at least the queue's worth is accepted (one more when the worker had taken one); with 32 arrivals at
            // once and each job taking several milliseconds, some must have found the queue full
            assertTrue(accepted >= QUEUE, "accepted " + accepted);
            assertTrue(refused >= 1, "refused " + refused);
            assertEquals(CLIENTS, accepted + refused);
            assertEquals("ok", server.get("/health").json().get("status"));
            assertEquals(0L, server.get("/health").json().get("queued"));
        }
    }
}
