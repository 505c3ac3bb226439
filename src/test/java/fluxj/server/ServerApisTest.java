package fluxj.server;

import fluxj.image.Exif;
import fluxj.image.WebpLossless;
import fluxj.io.Json;
import fluxj.pipeline.HubClient;
import fluxj.pipeline.ModelSource;
import fluxj.testing.Fixtures;
import fluxj.testing.PillowExif;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every API over real HTTP on the tiny fixture models: the image each one returns equals, pixel for pixel and in its
 * parameters text, what {@code fluxj generate} writes for the same request.
 */
class ServerApisTest {
    private static final String PROMPT = "a photo of a cat sitting on a red sofa";
    @TempDir
    static Path dir;
    static TestServer server;
    static Path single;
    static String singleName;

    @BeforeAll
    static void start() throws IOException {
        Path root = Fixtures.model("flux1-tiny-schnell-single");
        single = root.resolve("flux1-schnell-fp8-e4m3fn.safetensors");
        ModelSource singleSource = ModelSource.of(single.toString()).withParts(null, null, null,
                TestServer.tinyModel().resolve("tokenizer"), TestServer.tinyModel().resolve("tokenizer_2"), null);
        Models models = Models.of(List.of(ModelSource.of(TestServer.tinyModel().toString()), singleSource), HubClient.Listener.NONE);
        singleName = models.served().get(1).name();
        server = TestServer.start(TestServer.config(dir.resolve("out")), models);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    @Test
    void openAiGenerationEqualsTheCliImageAndIgnoresOpenAiOnlyFields() throws Exception {
        TestServer.CliImage cli = TestServer.cli(dir, TestServer.tinyModel(), PROMPT, 64, 42, 2);
        TestServer.Response r = server.post("/v1/images/generations", """
                {"prompt": "%s", "size": "64x64", "seed": 42, "steps": 2, "model": "dall-e-3", "quality": "hd", "style": "vivid", "user": "u1"}
                """.formatted(PROMPT));
        assertEquals(200, r.status(), r.text());
        Map<String, Object> body = r.json();
        List<?> data = (List<?>) body.get("data");
        assertEquals(1, data.size());
        TestServer.assertSameAsCli(cli, TestServer.b64(((Map<?, ?>) data.getFirst()).get("b64_json")));
        assertEquals("64x64", body.get("size"));
        assertEquals("png", body.get("output_format"));

        // as a URL: the same file, served from the output directory
        r = server.post("/v1/images/generations", """
                {"prompt": "%s", "size": "64x64", "seed": 42, "steps": 2, "response_format": "url"}""".formatted(PROMPT));
        String url = (String) ((Map<?, ?>) ((List<?>) r.json().get("data")).getFirst()).get("url");
        assertTrue(url.startsWith(server.server.uri().toString().replaceAll("/$", "")), url);
        TestServer.Response png = server.send(HttpRequest.newBuilder(java.net.URI.create(url)).GET());
        assertEquals("image/png", png.headers().firstValue("Content-Type").orElseThrow());
        TestServer.assertSameAsCli(cli, png.body());

        // JPEG when asked, with the parameters as EXIF UserComment (A1111's way; Pillow reads them back below)
        r = server.post("/v1/images/generations", """
                {"prompt": "%s", "size": "64x64", "seed": 42, "steps": 2, "output_format": "jpeg", "n": 2}""".formatted(PROMPT));
        data = (List<?>) r.json().get("data");
        assertEquals(2, data.size());
        byte[] jpegBytes = TestServer.b64(((Map<?, ?>) data.get(0)).get("b64_json"));
        var jpeg = ImageIO.read(new ByteArrayInputStream(jpegBytes));
        assertEquals(64, jpeg.getWidth());
        assertEquals("jpeg", r.json().get("output_format"));

        // lossless WebP when asked: the CLI's pixels exactly (WebpLosslessTest has libwebp decode the encoder's files)
        r = server.post("/v1/images/generations", """
                {"prompt": "%s", "size": "64x64", "seed": 42, "steps": 2, "output_format": "webp", "response_format": "url"}""".formatted(PROMPT));
        assertEquals("webp", r.json().get("output_format"));
        url = (String) ((Map<?, ?>) ((List<?>) r.json().get("data")).getFirst()).get("url");
        assertTrue(url.endsWith(".webp"), url);
        TestServer.Response webp = server.send(HttpRequest.newBuilder(java.net.URI.create(url)).GET());
        assertEquals("image/webp", webp.headers().firstValue("Content-Type").orElseThrow());
        assertArrayEquals(WebpLossless.encode(cli.image(), Exif.userComment(cli.parameters())), webp.body());

        Path read = Files.createDirectories(dir.resolve("exif-read"));
        Files.write(read.resolve("out.jpg"), jpegBytes);
        Files.write(read.resolve("out.webp"), webp.body());
        Map<String, PillowExif.Read> back = PillowExif.read(read);
        assertEquals(Optional.of(cli.parameters()), back.get("out.jpg").comment());
        assertEquals(Optional.of(cli.parameters()), back.get("out.webp").comment());
        assertArrayEquals(cli.image().rgb(), back.get("out.webp").rgb(), "the WebP decodes to the CLI's pixels");
    }

    @Test
    void openAiErrorsNameTheField() {
        Map<String, String> bad = Map.of(
                "{\"size\": \"64x64\"}", "prompt",
                "{\"prompt\": \"x\", \"size\": \"65x64\"}", "size",
                "{\"prompt\": \"x\", \"size\": \"big\"}", "size",
                "{\"prompt\": \"x\", \"n\": 99}", "n",
                "{\"prompt\": \"x\", \"output_format\": \"gif\"}", "output_format",
                "{\"prompt\": \"x\", \"steps\": 0}", "steps",
                "{\"prompt\": \"x\", \"seed\": \"abc\"}", "seed",
                "{\"prompt\": 7}", "prompt");
        bad.forEach((body, field) -> {
            TestServer.Response r = server.post("/v1/images/generations", body);
            assertEquals(400, r.status(), body);
            Map<?, ?> err = (Map<?, ?>) r.json().get("error");
            assertEquals(field, err.get("param"), body + " -> " + r.text());
            assertEquals("invalid_request_error", err.get("type"));
            assertTrue(((String) err.get("message")).contains(field), r.text());
        });
        TestServer.Response r = server.post("/v1/images/generations", "{\"prompt\": ");
        assertEquals(400, r.status());
        assertTrue(((String) ((Map<?, ?>) r.json().get("error")).get("message")).contains("malformed JSON"), r.text());

        Map<String, Object> models = server.get("/v1/models").json();
        assertEquals("list", models.get("object"));
        assertEquals(List.of("flux1-tiny-schnell", singleName), ((List<?>) models.get("data")).stream().map(m -> ((Map<?, ?>) m).get("id")).toList());
    }

    @Test
    @SuppressWarnings("unchecked")
    void a1111Txt2imgEqualsTheCliImagesWithSeedsInInfo() throws IOException {
        TestServer.CliImage first = TestServer.cli(dir, TestServer.tinyModel(), PROMPT, 64, 7, 2);
        TestServer.CliImage second = TestServer.cli(dir, TestServer.tinyModel(), PROMPT, 64, 8, 2);
        TestServer.Response r = server.post("/sdapi/v1/txt2img", """
                {"prompt": "%s", "negative_prompt": "", "width": 64, "height": 64, "seed": 7, "steps": 2, "cfg_scale": 1,
                 "batch_size": 2, "n_iter": 1, "sampler_name": "DPM++ 2M", "restore_faces": false, "override_settings": {}}""".formatted(PROMPT));
        assertEquals(200, r.status(), r.text());
        Map<String, Object> body = r.json();
        List<?> images = (List<?>) body.get("images");
        TestServer.assertSameAsCli(first, TestServer.b64(images.get(0)));
        TestServer.assertSameAsCli(second, TestServer.b64(images.get(1)));
        assertEquals(7L, ((Map<String, Object>) body.get("parameters")).get("seed"));
        Map<String, Object> info = (Map<String, Object>) Json.parse((String) body.get("info"));
        assertEquals(List.of(7L, 8L), info.get("all_seeds"));
        assertEquals(7L, info.get("seed"));
        assertEquals("Euler", info.get("sampler_name"));
        assertEquals("flux1-tiny-schnell", info.get("sd_model_name"));
        assertEquals(List.of(first.parameters(), second.parameters()), info.get("infotexts"));
    }

    @Test
    @SuppressWarnings("unchecked")
    void a1111OptionsSwitchTheModelAndListsHaveTheirShapes() throws IOException {
        // SillyTavern's and Open WebUI's flow: read options and models, select one, wait for idle, generate
        List<Map<String, Object>> models = (List<Map<String, Object>>) server.get("/sdapi/v1/sd-models").jsonValue();
        assertEquals(2, models.size());
        for (Map<String, Object> m : models) assertTrue(m.containsKey("title") && m.containsKey("model_name") && m.containsKey("hash") && m.containsKey("filename"), m.toString());
        assertEquals(200, server.post("/sdapi/v1/options", Json.write(Map.of("sd_model_checkpoint", singleName, "sd_vae", "Automatic"))).status());
        try {
            assertTrue(((String) server.get("/sdapi/v1/options").json().get("sd_model_checkpoint")).startsWith(singleName));
            Map<String, Object> progress = server.get("/sdapi/v1/progress?skip_current_image=false").json();
            assertEquals(0L, ((Map<?, ?>) progress.get("state")).get("job_count"));
            TestServer.Response r = server.post("/sdapi/v1/txt2img", """
                    {"prompt": "%s", "width": 64, "height": 64, "seed": 5, "steps": 2}""".formatted(PROMPT));
            assertEquals(200, r.status(), r.text());
            Path clipTok = TestServer.tinyModel().resolve("tokenizer"), t5Tok = TestServer.tinyModel().resolve("tokenizer_2");
            TestServer.CliImage cli = TestServer.cli(dir, single, PROMPT, 64, 5, 2, "--clip-tokenizer", clipTok.toString(), "--t5-tokenizer", t5Tok.toString());
            TestServer.assertSameAsCli(cli, TestServer.b64(((List<?>) r.json().get("images")).getFirst()));
            Map<String, Object> info = (Map<String, Object>) Json.parse((String) r.json().get("info"));
            assertEquals(singleName, info.get("sd_model_name"));
            // once a model made an image its hash is known: the title is A1111's "name [hash]"
            assertEquals(singleName + " [" + info.get("sd_model_hash") + "]", server.get("/sdapi/v1/options").json().get("sd_model_checkpoint"));
        } finally {
            assertEquals(200, server.post("/sdapi/v1/options", Json.write(Map.of("sd_model_checkpoint", "flux1-tiny-schnell"))).status());
        }
        TestServer.Response bad = server.post("/sdapi/v1/options", "{\"sd_model_checkpoint\": \"sdxl.safetensors\"}");
        assertEquals(400, bad.status());
        assertTrue(((String) bad.json().get("detail")).contains("sd_model_checkpoint"), bad.text());

        // samples_format: the images of replies as lossless WebP, the CLI's pixels exactly
        assertEquals(200, server.post("/sdapi/v1/options", "{\"samples_format\": \"webp\"}").status());
        try {
            assertEquals("webp", server.get("/sdapi/v1/options").json().get("samples_format"));
            TestServer.Response r = server.post("/sdapi/v1/txt2img", """
                    {"prompt": "%s", "width": 64, "height": 64, "seed": 42, "steps": 2}""".formatted(PROMPT));
            assertEquals(200, r.status(), r.text());
            TestServer.CliImage cli = TestServer.cli(dir, TestServer.tinyModel(), PROMPT, 64, 42, 2);
            assertArrayEquals(WebpLossless.encode(cli.image(), Exif.userComment(cli.parameters())), TestServer.b64(((List<?>) r.json().get("images")).getFirst()));
        } finally {
            assertEquals(200, server.post("/sdapi/v1/options", "{\"samples_format\": \"png\"}").status());
        }
        bad = server.post("/sdapi/v1/options", "{\"samples_format\": \"tiff\"}");
        assertEquals(400, bad.status());
        assertTrue(((String) bad.json().get("detail")).contains("samples_format"), bad.text());

        assertEquals("Euler", ((Map<?, ?>) ((List<?>) server.get("/sdapi/v1/samplers").jsonValue()).getFirst()).get("name"));
        assertEquals("None", ((Map<?, ?>) ((List<?>) server.get("/sdapi/v1/upscalers").jsonValue()).getFirst()).get("name"));
        assertNotNull(((Map<?, ?>) ((List<?>) server.get("/sdapi/v1/schedulers").jsonValue()).getFirst()).get("label"));
        for (String list : List.of("sd-vae", "sd-modules", "latent-upscale-modes")) {
            TestServer.Response r = server.get("/sdapi/v1/" + list);
            assertEquals(200, r.status());
            assertTrue(r.jsonValue() instanceof List, list);
        }
        TestServer.Response r = server.post("/sdapi/v1/txt2img", "{\"prompt\": \"x\", \"width\": 500}");
        assertEquals(400, r.status());
        assertEquals("BadRequest", r.json().get("error"));
        assertTrue(((String) r.json().get("detail")).contains("width") && ((String) r.json().get("detail")).contains("496"), r.text());
    }

    @Test
    void nativeJobEqualsTheCliImageAndEndsItsEventStreamWithDone() throws Exception {
        TestServer.CliImage cli = TestServer.cli(dir, TestServer.tinyModel(), PROMPT, 64, 11, 3);
        TestServer.Response r = server.post("/fluxj/v1/jobs", """
                {"prompt": "%s", "width": 64, "height": 64, "seed": 11, "steps": 3}""".formatted(PROMPT));
        assertEquals(202, r.status(), r.text());
        String id = (String) r.json().get("id");
        assertEquals("/fluxj/v1/jobs/" + id, r.headers().firstValue("Location").orElseThrow());
        HttpResponse<Stream<String>> events = server.client().send(HttpRequest.newBuilder(server.uri("/fluxj/v1/jobs/" + id + "/events")).build(),
                HttpResponse.BodyHandlers.ofLines());
        assertTrue(events.headers().firstValue("Content-Type").orElseThrow().startsWith("text/event-stream"));
        List<String> names = events.body().filter(l -> l.startsWith("event: ")).map(l -> l.substring(7)).toList();
        assertEquals("done", names.getLast(), names.toString());
        Map<String, Object> job = server.awaitStatus(id, "done");
        String url = (String) ((Map<?, ?>) ((List<?>) job.get("outputs")).getFirst()).get("url");
        TestServer.assertSameAsCli(cli, server.get(url).body());
        assertEquals("ok", server.get("/health").json().get("status"));
        List<?> listed = (List<?>) server.get("/fluxj/v1/jobs?limit=200").json().get("jobs");
        assertTrue(listed.stream().anyMatch(j -> id.equals(((Map<?, ?>) j).get("id"))));
    }
}
