package fluxj.server;

import fluxj.testing.Cli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Authentication, loopback by default, body and parameter limits, no path traversal, CORS only when asked. */
class SafetyTest {
    @TempDir
    Path dir;

    private TestServer start(String key, String cors, Limits limits) throws Exception {
        FluxServer.Config c = new FluxServer.Config("127.0.0.1", 0, key, false, cors, dir.resolve("out"), 8, limits, new ServeSettings(0, null));
        return TestServer.start(c, new Models(List.of(TestServer.free("fake"))));
    }

    @Test
    void anApiKeyIsRequiredOnEveryApiButNotForHealthAndThePage() throws Exception {
        try (TestServer s = start("s3cret", null, Limits.DEFAULT)) {
            for (String path : List.of("/v1/models", "/sdapi/v1/options", "/fluxj/v1/jobs", "/fluxj/v1/models")) {
                TestServer.Response r = s.get(path);
                assertEquals(401, r.status(), path);
                assertTrue(r.headers().firstValue("WWW-Authenticate").orElseThrow().startsWith("Bearer"));
                assertEquals(401, s.get(path, "Authorization", "Bearer wrong").status(), path);
                assertEquals(200, s.get(path, "Authorization", "Bearer s3cret").status(), path);
            }
            assertEquals("authentication_error", ((Map<?, ?>) s.get("/v1/models").json().get("error")).get("type"));
            assertEquals(401, s.post("/v1/images/generations", "{\"prompt\": \"x\"}").status());
            // A1111 clients send their --api-auth user:password as Basic auth: the password is the key
            String basic = "Basic " + Base64.getEncoder().encodeToString("user:s3cret".getBytes(StandardCharsets.UTF_8));
            assertEquals(200, s.get("/sdapi/v1/sd-models", "Authorization", basic).status());
            assertEquals(200, s.get("/health").status());
            assertEquals(200, s.get("/").status());
        }
    }

    @Test
    void listeningBeyondLoopbackNeedsAKeyOrInsecure() {
        FluxServer.Config c = new FluxServer.Config("0.0.0.0", 0, null, false, null, dir, 8, Limits.DEFAULT, new ServeSettings(0, null));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FluxServer.start(c, new Models(List.of(TestServer.free("fake")))));
        assertTrue(e.getMessage().contains("--api-key") && e.getMessage().contains("--insecure"), e.getMessage());
        // the command line says so before loading anything, as a usage error
        Cli.Run r = Cli.run("serve", "--host", "0.0.0.0", "--model", dir.resolve("absent").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--api-key"), r.err());
    }

    @Test
    void bodiesOverTheLimitGet413AndMalformedRequests400NamingTheField() throws Exception {
        try (TestServer s = start(null, null, new Limits(256, 8, 2, 4096))) {
            String big = "{\"prompt\": \"" + "x".repeat(10_000) + "\"}";
            TestServer.Response r = s.post("/v1/images/generations", big);
            assertEquals(413, r.status());
            assertTrue(((String) ((Map<?, ?>) r.json().get("error")).get("message")).contains("--max-body"), r.text());
            // without a Content-Length (chunked): counted while read
            r = s.send(HttpRequest.newBuilder(s.uri("/fluxj/v1/jobs")).POST(HttpRequest.BodyPublishers.ofInputStream(
                    () -> new ByteArrayInputStream(big.getBytes(StandardCharsets.UTF_8)))));
            assertEquals(413, r.status());
            // an OpenAI JSON edit's inline images count against the same limit, and their number against --max-images
            r = s.post("/v1/images/edits", "{\"prompt\": \"x\", \"images\": [{\"image_url\": \"data:image/png;base64," + "A".repeat(10_000) + "\"}]}");
            assertEquals(413, r.status());
            assertTrue(((String) ((Map<?, ?>) r.json().get("error")).get("message")).contains("--max-body"), r.text());
            r = s.post("/v1/images/edits", "{\"prompt\": \"x\", \"images\": [" + String.join(", ", java.util.Collections.nCopies(3, "{\"image_url\": \"data:,\"}")) + "]}");
            assertEquals(400, r.status());
            assertEquals("images", ((Map<?, ?>) r.json().get("error")).get("param"), r.text());

            Map<String, String> bad = Map.of(
                    "{\"prompt\": \"x\", \"width\": 512}", "width",
                    "{\"prompt\": \"x\", \"height\": 40}", "height",
                    "{\"prompt\": \"x\", \"steps\": 9}", "steps",
                    "{\"prompt\": \"x\", \"n\": 3}", "n",
                    "{\"prompt\": \"x\", \"guidance\": -1}", "guidance",
                    "{\"prompt\": \"x\", \"cfg_scale\": \"high\"}", "cfg_scale",
                    "{\"prompt\": \"x\", \"guidance_interval\": [0.5]}", "guidance_interval",
                    "{\"prompt\": \"x\", \"model\": \"other\"}", "model",
                    "{\"width\": 64}", "prompt");
            bad.forEach((body, field) -> {
                TestServer.Response e = s.post("/fluxj/v1/jobs", body);
                assertEquals(400, e.status(), body);
                assertEquals(field, ((Map<?, ?>) e.json().get("error")).get("field"), body + " -> " + e.text());
            });
            r = s.post("/fluxj/v1/jobs", "[1, 2]");
            assertEquals(400, r.status());
            r = s.post("/sdapi/v1/txt2img", "{\"prompt\": \"x\", \"batch_size\": 2, \"n_iter\": 2}");
            assertEquals(400, r.status());
            assertTrue(((String) r.json().get("detail")).contains("n_iter"), r.text());
            assertEquals(404, s.get("/nowhere").status());
            TestServer.Response wrongMethod = s.get("/v1/images/generations");
            assertEquals(405, wrongMethod.status());
            assertEquals("POST", wrongMethod.headers().firstValue("Allow").orElseThrow());
        }
    }

    @Test
    void outputsAreServedOnlyFromTheOutputDirectory() throws Exception {
        Files.createDirectories(dir.resolve("out"));
        Files.writeString(dir.resolve("secret.png"), "not for you");
        try (TestServer s = start(null, null, Limits.DEFAULT)) {
            String id = (String) s.post("/fluxj/v1/jobs", "{\"prompt\": \"p\", \"width\": 32, \"height\": 32, \"steps\": 1}").json().get("id");
            s.awaitStatus(id, "done");
            TestServer.assertPng(s.get("/fluxj/v1/outputs/" + id + "-0.png").body());
            for (String p : List.of("../secret.png", "..%2Fsecret.png", "%2E%2E%2Fsecret.png", ".jobs", ".jobs%2F" + id + ".json", id + ".json",
                    "..%5Csecret.png", "%2Fetc%2Fpasswd")) {
                TestServer.Response r = s.send(HttpRequest.newBuilder(java.net.URI.create(s.uri("/").toString() + "fluxj/v1/outputs/" + p)).GET());
                assertTrue(r.status() == 404 || r.status() == 400, p + " -> " + r.status());
                assertFalse(r.text().contains("not for you"), p);
            }
        }
    }

    @Test
    void corsHeadersOnlyForTheConfiguredOrigin() throws Exception {
        try (TestServer s = start(null, null, Limits.DEFAULT)) {
            TestServer.Response r = s.get("/v1/models", "Origin", "http://evil.test");
            assertTrue(r.headers().firstValue("Access-Control-Allow-Origin").isEmpty());
            assertEquals(405, s.send(HttpRequest.newBuilder(s.uri("/v1/images/generations")).method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                    .header("Origin", "http://evil.test")).status());
        }
        try (TestServer s = start("k", "http://app.test", Limits.DEFAULT)) {
            TestServer.Response r = s.get("/v1/models", "Origin", "http://app.test", "Authorization", "Bearer k");
            assertEquals("http://app.test", r.headers().firstValue("Access-Control-Allow-Origin").orElseThrow());
            assertTrue(s.get("/v1/models", "Origin", "http://evil.test", "Authorization", "Bearer k").headers().firstValue("Access-Control-Allow-Origin").isEmpty());
            // the preflight carries no key and is answered
            r = s.send(HttpRequest.newBuilder(s.uri("/v1/images/generations")).method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                    .header("Origin", "http://app.test").header("Access-Control-Request-Method", "POST"));
            assertEquals(204, r.status());
            assertTrue(r.headers().firstValue("Access-Control-Allow-Headers").orElseThrow().contains("Authorization"));
        }
    }
}
