package fluxj.server;

import fluxj.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The queue's control over real HTTP, on a model of fake parts whose steps wait for permits the test hands out, so
 * that a job is exactly where the test wants it: events, progress, cancel, interrupt, skip, a full queue, restart.
 */
class JobControlTest {
    @TempDir
    Path dir;
    private final Semaphore gate = new Semaphore(0);

    private TestServer start(int queueSize) throws Exception {
        FluxServer.Config c = TestServer.config(dir);
        c = new FluxServer.Config(c.host(), c.port(), null, false, null, dir, queueSize, c.limits(), c.settings());
        return TestServer.start(c, new Models(List.of(TestServer.gated("gated", gate))));
    }

    private static String submit(TestServer s, int steps, int n) {
        TestServer.Response r = s.post("/fluxj/v1/jobs", "{\"prompt\": \"p\", \"width\": 32, \"height\": 32, \"seed\": 1, \"steps\": " + steps + ", \"n\": " + n + "}");
        assertEquals(202, r.status(), r.text());
        return (String) r.json().get("id");
    }

    @Test
    void eventsCarryQueuePositionStepsWithEtaAndPreviewThenTheOutputs() throws Exception {
        try (TestServer s = start(4)) {
            String first = submit(s, 2, 1);
            s.awaitStatus(first, "running");
            String id = submit(s, 2, 2);
            assertEquals(0L, s.get("/fluxj/v1/jobs/" + id).json().get("position"));
            CompletableFuture<HttpResponse<Stream<String>>> events = s.client().sendAsync(
                    HttpRequest.newBuilder(s.uri("/fluxj/v1/jobs/" + id + "/events")).build(), HttpResponse.BodyHandlers.ofLines());
            HttpResponse<Stream<String>> stream = events.get(30, TimeUnit.SECONDS);
            gate.release(2 + 2 * 2);
            List<String> lines = stream.body().toList();
            List<String> names = lines.stream().filter(l -> l.startsWith("event: ")).map(l -> l.substring(7)).toList();
            List<Map<?, ?>> data = lines.stream().filter(l -> l.startsWith("data: ")).<Map<?, ?>>map(l -> (Map<?, ?>) Json.parse(l.substring(6))).toList();
            assertEquals("queued", names.getFirst(), names.toString());
            assertEquals(List.of("started", "step", "step", "image", "step", "step", "image", "done"), names.subList(names.indexOf("started"), names.size()));
            Map<?, ?> step = data.get(names.indexOf("step"));
            assertEquals(1L, step.get("step"));
            assertEquals(2L, step.get("steps"));
            assertTrue(((Number) step.get("eta_seconds")).doubleValue() >= 0, step.toString());
            assertTrue(((String) step.get("preview")).startsWith("data:image/png;base64,"));
            List<?> outputs = (List<?>) data.getLast().get("outputs");
            assertEquals(2, outputs.size());
            assertEquals(List.of(1L, 2L), outputs.stream().map(o -> ((Map<?, ?>) o).get("seed")).toList());
            for (Object o : outputs) TestServer.assertPng(s.get((String) ((Map<?, ?>) o).get("url")).body());
        }
    }

    @Test
    void cancelRemovesAQueuedJobAndStopsARunningOneAtItsNextStep() throws Exception {
        try (TestServer s = start(4)) {
            String running = submit(s, 4, 1), queued = submit(s, 4, 1);
            s.awaitStatus(running, "running");
            TestServer.Response r = s.post("/fluxj/v1/jobs/" + queued + "/cancel", "");
            assertEquals(200, r.status());
            assertEquals("cancelled", r.json().get("status"));
            assertEquals(409, s.post("/fluxj/v1/jobs/" + queued + "/cancel", "").status());
            gate.release(1);
            assertEquals("running", s.post("/fluxj/v1/jobs/" + running + "/cancel", "").json().get("status"));
            gate.release(1);
            Map<String, Object> job = s.awaitStatus(running, "cancelled");
            assertEquals(List.of(), job.get("outputs"));
            assertEquals(404, s.post("/fluxj/v1/jobs/0123456789abcdef/cancel", "").status());
            // the worker goes on with the next job
            gate.release(100);
            s.awaitStatus(submit(s, 1, 1), "done");
        }
    }

    @Test
    void a1111ProgressInterruptAndSkip() throws Exception {
        try (TestServer s = start(4)) {
            CompletableFuture<TestServer.Response> txt2img = CompletableFuture.supplyAsync(() -> s.post("/sdapi/v1/txt2img",
                    "{\"prompt\": \"p\", \"width\": 32, \"height\": 32, \"steps\": 3, \"batch_size\": 2}"));
            String queued = null;
            while (s.server.queue().running() == null) Thread.sleep(10);
            queued = submit(s, 1, 1);
            gate.release(1);
            Map<String, Object> p;
            do {
                p = s.get("/sdapi/v1/progress").json();
            } while (((Map<?, ?>) p.get("state")).get("sampling_step").equals(0L));
            while (!gate.hasQueuedThreads()) Thread.sleep(5); // at step 2's transformer call
            Map<?, ?> state = (Map<?, ?>) p.get("state");
            assertEquals(2L, state.get("job_count"));
            assertEquals(3L, state.get("sampling_steps"));
            double fraction = ((Number) p.get("progress")).doubleValue();
            assertTrue(fraction > 0 && fraction < 1, p.toString());
            TestServer.assertPng(TestServer.b64(p.get("current_image")));
            assertEquals(null, s.get("/sdapi/v1/progress?skip_current_image=true").json().get("current_image"));

            // skip: the first image is kept as it is after step 2 (as A1111), the second is made in full
            assertEquals(200, s.post("/sdapi/v1/skip", "").status());
            gate.release(1 + 3);
            TestServer.Response r = txt2img.get(30, TimeUnit.SECONDS);
            assertEquals(200, r.status(), r.text());
            assertEquals(2, ((List<?>) r.json().get("images")).size());
            Map<?, ?> info = (Map<?, ?>) Json.parse((String) r.json().get("info"));
            List<?> infotexts = (List<?>) info.get("infotexts");
            assertTrue(((String) infotexts.get(0)).contains("Stopped at step: 2"), infotexts.toString());
            assertFalse(((String) infotexts.get(1)).contains("Stopped at step"), infotexts.toString());
            gate.release(1);
            s.awaitStatus(queued, "done");

            // interrupt: the synchronous request answers the image as it is after the step under way, the server goes on
            txt2img = CompletableFuture.supplyAsync(() -> s.post("/sdapi/v1/txt2img", "{\"prompt\": \"p\", \"width\": 32, \"height\": 32, \"steps\": 3, \"n_iter\": 2}"));
            while (!gate.hasQueuedThreads()) Thread.sleep(5); // at step 1's transformer call
            assertEquals(200, s.post("/sdapi/v1/interrupt", "").status());
            assertEquals(true, ((Map<?, ?>) s.get("/sdapi/v1/progress").json().get("state")).get("interrupted"));
            gate.release(1);
            r = txt2img.get(30, TimeUnit.SECONDS);
            assertEquals(200, r.status(), r.text());
            assertEquals(1, ((List<?>) r.json().get("images")).size());
            info = (Map<?, ?>) Json.parse((String) r.json().get("info"));
            assertTrue(((String) ((List<?>) info.get("infotexts")).getFirst()).contains("Stopped at step: 1"), info.toString());
            assertEquals(0L, ((Map<?, ?>) s.get("/sdapi/v1/progress").json().get("state")).get("job_count"));

            // a job of the native API keeps its semantics under A1111's interrupt: cancelled, its image dropped
            String nativeJob = submit(s, 3, 1);
            while (!gate.hasQueuedThreads()) Thread.sleep(5);
            assertEquals(200, s.post("/sdapi/v1/interrupt", "").status());
            gate.release(1);
            assertEquals(List.of(), s.awaitStatus(nativeJob, "cancelled").get("outputs"));
        }
    }

    @Test
    void aFullQueueAnswers429WithRetryAfter() throws Exception {
        try (TestServer s = start(2)) {
            String running = submit(s, 1, 1);
            s.awaitStatus(running, "running");
            submit(s, 1, 1);
            submit(s, 1, 1);
            TestServer.Response r = s.post("/fluxj/v1/jobs", "{\"prompt\": \"p\", \"width\": 32, \"height\": 32}");
            assertEquals(429, r.status());
            assertTrue(Long.parseLong(r.headers().firstValue("Retry-After").orElseThrow()) >= 1);
            r = s.post("/v1/images/generations", "{\"prompt\": \"p\", \"size\": \"32x32\"}");
            assertEquals(429, r.status());
            assertEquals("rate_limit_error", ((Map<?, ?>) r.json().get("error")).get("type"));
            gate.release(3);
        }
    }

    @Test
    void aRestartResumesQueuedJobsAndAJobCutOffWhileRunning() throws Exception {
        String done, queued, crashed;
        TestServer s = start(4);
        done = submit(s, 2, 1);
        s.awaitStatus(done, "running");
        queued = submit(s, 2, 1);
        crashed = submit(s, 2, 2);
        // graceful shutdown: the running job finishes, the queued ones stay in the journal
        CompletableFuture<Void> closing = CompletableFuture.runAsync(s::close);
        Thread.sleep(100);
        assertFalse(closing.isDone(), "close must wait for the running job");
        gate.release(2);
        closing.get(30, TimeUnit.SECONDS);
        assertTrue(Files.isRegularFile(dir.resolve(done + "-0.png")));
        assertFalse(Files.exists(dir.resolve(queued + "-0.png")));

        // a crash in the middle of a job: its journal says running, one image written, the other not
        Path journal = dir.resolve(".jobs").resolve(crashed + ".json");
        String j = Files.readString(journal, StandardCharsets.UTF_8).replace("\"status\":\"queued\"", "\"status\":\"running\"");
        Files.writeString(journal, j, StandardCharsets.UTF_8);
        Files.copy(dir.resolve(done + "-0.png"), dir.resolve(crashed + "-0.png"));

        // a torn or foreign file in the journal is reported and skipped, not fatal
        Files.writeString(dir.resolve(".jobs").resolve("garbage.json"), "{\"id\": ", StandardCharsets.UTF_8);

        gate.release(100);
        try (TestServer again = start(4)) {
            assertEquals("done", again.get("/fluxj/v1/jobs/" + done).json().get("status"));
            Map<String, Object> q = again.awaitStatus(queued, "done");
            assertEquals(1, ((List<?>) q.get("outputs")).size());
            Map<String, Object> c = again.awaitStatus(crashed, "done");
            List<?> outs = (List<?>) c.get("outputs");
            assertEquals(2, outs.size());
            assertEquals(List.of(1L, 2L), outs.stream().map(o -> ((Map<?, ?>) o).get("seed")).toList());
            // the image written before the crash was kept, the missing one made
            assertEquals(Files.size(dir.resolve(done + "-0.png")), Files.size(dir.resolve(crashed + "-0.png")));
            assertNotNull(again.get("/fluxj/v1/outputs/" + crashed + "-1.png").body());
            List<String> order = new ArrayList<>();
            for (Object o : (List<?>) again.get("/fluxj/v1/jobs").json().get("jobs")) order.add((String) ((Map<?, ?>) o).get("id"));
            assertEquals(List.of(crashed, queued, done), order);
        }
    }
}
