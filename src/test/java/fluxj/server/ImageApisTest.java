package fluxj.server;

import fluxj.io.Json;
import fluxj.pipeline.HubClient;
import fluxj.pipeline.ModelSource;
import fluxj.pipeline.RgbImage;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Image-conditioned generation through every API on the image fixtures' inputs and tiny models: img2img and
 * inpainting on schnell, Fill on its model, each equal pixel for pixel (PSNR infinite) to what
 * {@code fluxj generate} makes from the same files. (The parameters text differs in the input file names only.)
 */
class ImageApisTest {
    @TempDir
    static Path dir;
    static TestServer server;
    static Path single, fill;
    static String fillName;

    @BeforeAll
    static void start() throws IOException {
        single = Fixtures.model("flux1-tiny-schnell-single");
        fill = Fixtures.model("flux1-tiny-image/flux1-fill-dev.safetensors");
        List<ModelSource> sources = new ArrayList<>(List.of(ModelSource.of(TestServer.tinyModel().toString())));
        sources.add(ModelSource.of(fill.toString()).withParts(single.resolve("ae.safetensors"), single.resolve("clip_l.safetensors"),
                single.resolve("t5xxl_fp16.safetensors"), TestServer.tinyModel().resolve("tokenizer"), TestServer.tinyModel().resolve("tokenizer_2"), null));
        Models models = Models.of(sources, HubClient.Listener.NONE);
        fillName = models.served().get(1).name();
        server = TestServer.start(TestServer.config(dir.resolve("out")), models);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static Path input(String c, String file) {
        return Fixtures.caseDir(c).resolve(file);
    }

    /** The CLI's arguments for a single-file image model of the fixtures. */
    private static String[] singleFileParts() {
        return new String[]{"--vae", single.resolve("ae.safetensors").toString(), "--clip-l", single.resolve("clip_l.safetensors").toString(),
                "--t5", single.resolve("t5xxl_fp16.safetensors").toString(), "--clip-tokenizer", TestServer.tinyModel().resolve("tokenizer").toString(),
                "--t5-tokenizer", TestServer.tinyModel().resolve("tokenizer_2").toString()};
    }

    private static String[] concat(String[] a, String... b) {
        List<String> l = new ArrayList<>(List.of(a));
        l.addAll(List.of(b));
        return l.toArray(String[]::new);
    }

    /** A multipart/form-data body of text fields and files. */
    private static HttpRequest.Builder multipart(String path, Map<String, String> fields, Map<String, byte[]> files) {
        String boundary = "fluxjtest" + System.nanoTime();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        fields.forEach((k, v) -> body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + k + "\"\r\n\r\n" + v + "\r\n").getBytes(StandardCharsets.UTF_8)));
        files.forEach((k, v) -> {
            String name = k.replaceAll("#.*", "");
            body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"; filename=\"" + name + ".png\"\r\nContent-Type: image/png\r\n\r\n").getBytes(StandardCharsets.UTF_8));
            body.writeBytes(v);
            body.writeBytes("\r\n".getBytes(StandardCharsets.UTF_8));
        });
        body.writeBytes(("--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        return HttpRequest.newBuilder(server.uri(path)).header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray()));
    }

    private static byte[] openAiImage(TestServer.Response r) {
        assertEquals(200, r.status(), r.text());
        return TestServer.b64(((Map<?, ?>) ((List<?>) r.json().get("data")).getFirst()).get("b64_json"));
    }

    private static void assertSamePixels(TestServer.CliImage cli, byte[] png) throws IOException {
        assertEquals(Double.POSITIVE_INFINITY, TestServer.png(png).psnr(cli.image()), "PSNR against the CLI's image");
    }

    private static String b64(Path p) throws IOException {
        return Base64.getEncoder().encodeToString(Files.readAllBytes(p));
    }

    @Test
    void img2imgThroughOpenAiEditsEqualsTheCli() throws IOException {
        String prompt = "a watercolor landscape with a red barn and a windmill";
        Path init = input("pi01_img2img_schnell", "init.png");
        TestServer.CliImage cli = TestServer.cli(dir, TestServer.tinyModel(), prompt, 64, 101, 4, "--init-image", init.toString(), "--strength", "0.6");
        byte[] png = openAiImage(server.send(multipart("/v1/images/edits",
                Map.of("prompt", prompt, "strength", "0.6", "seed", "101", "steps", "4"), Map.of("image", Files.readAllBytes(init)))));
        assertSamePixels(cli, png);
        Map<String, String> fields = fluxj.pipeline.Infotext.parse(TestServer.parameters(png)).fields();
        assertEquals("0.6", fields.get("Denoising strength"));
        // img2img runs fewer steps than asked (strength shortens the schedule) but is not stopped early
        assertFalse(fields.containsKey(fluxj.pipeline.Infotext.STOPPED_AT), fields.toString());

        // on schnell an image without mask or strength is img2img at the CLI's default strength
        TestServer.CliImage byDefault = TestServer.cli(dir, TestServer.tinyModel(), prompt, 64, 101, 4, "--init-image", init.toString());
        assertSamePixels(byDefault, openAiImage(server.send(multipart("/v1/images/edits",
                Map.of("prompt", prompt, "seed", "101", "steps", "4", "size", "64x64"), Map.of("image[]", Files.readAllBytes(init))))));
    }

    private static HttpRequest.Builder json(String path, Object body) {
        return HttpRequest.newBuilder(server.uri(path)).header("Content-Type", "application/json; charset=utf-8")
                .POST(HttpRequest.BodyPublishers.ofString(Json.write(body)));
    }

    private static Map<String, Object> ref(String url) {
        return Map.of("image_url", url);
    }

    @Test
    void openAiJsonEditsWithDataUrlsEqualTheCli() throws IOException {
        String prompt = "a watercolor landscape with a red barn and a windmill";
        Path init = input("pi01_img2img_schnell", "init.png");
        TestServer.CliImage cli = TestServer.cli(dir, TestServer.tinyModel(), prompt, 64, 111, 4, "--init-image", init.toString(), "--strength", "0.6");
        Map<String, Object> body = new LinkedHashMap<>(Map.of("prompt", prompt, "strength", 0.6, "seed", 111L, "steps", 4L, "model", "gpt-image-1",
                "images", List.of(ref("data:image/png;base64," + b64(init))), "quality", "high", "input_fidelity", "high"));
        assertSamePixels(cli, openAiImage(server.send(json("/v1/images/edits", body))));

        // a mask as OpenAI's JSON gives it (without alpha it is read as fluxj reads masks: white = repaint)
        String tulips = "a bouquet of yellow tulips in a glass vase";
        Path init2 = input("pi02_inpaint_schnell", "init.png"), mask = input("pi02_inpaint_schnell", "mask.png");
        TestServer.CliImage inpaint = TestServer.cli(dir, TestServer.tinyModel(), tulips, 64, 112, 4,
                "--init-image", init2.toString(), "--mask", mask.toString(), "--strength", "0.75");
        body = Map.of("prompt", tulips, "strength", 0.75, "seed", 112L, "steps", 4L, "output_format", "png",
                "images", List.of(ref("data:image/png;base64," + b64(init2))), "mask", ref("data:image/png;base64," + b64(mask)));
        assertSamePixels(inpaint, openAiImage(server.send(json("/v1/images/edits", body))));
    }

    @Test
    void badJsonEditsAre400InOpenAisShapeNamingTheField() throws IOException {
        long before = savedInputs();
        String png = "data:image/png;base64," + b64(input("pi01_img2img_schnell", "init.png"));
        Map<Object, String[]> bad = new LinkedHashMap<>();
        bad.put("{\"prompt\": \"x\", \"images\": [", new String[]{null, "malformed JSON"});
        bad.put(Map.of("prompt", "x"), new String[]{"images", "is required"});
        bad.put(Map.of("prompt", "x", "images", "abc"), new String[]{"images", "must be a list"});
        bad.put(Map.of("prompt", "x", "images", List.of()), new String[]{"images", "is required"});
        bad.put(Map.of("prompt", "x", "images", List.of(png)), new String[]{"images[0]", "must be an object"});
        bad.put(Map.of("prompt", "x", "images", List.of(Map.of())), new String[]{"images[0].image_url", "is required"});
        bad.put(Map.of("prompt", "x", "images", List.of(Map.of("image_url", 5L))), new String[]{"images[0].image_url", "must be a string"});
        bad.put(Map.of("prompt", "x", "images", List.of(ref(png), ref("https://169.254.169.254/latest/meta-data"))),
                new String[]{"images[1].image_url", "does not fetch images from URLs"});
        bad.put(Map.of("prompt", "x", "images", List.of(Map.of("file_id", "file-abc123"))), new String[]{"images[0].file_id", "no Files API"});
        bad.put(Map.of("prompt", "x", "images", List.of(ref("c2VjcmV0"))), new String[]{"images[0].image_url", "must be a data URL"});
        bad.put(Map.of("prompt", "x", "images", List.of(ref("data:image/png,rawbytes"))), new String[]{"images[0].image_url", "base64"});
        bad.put(Map.of("prompt", "x", "images", List.of(ref("data:image/png;base64,%%%"))), new String[]{"images[0].image_url", "empty"});
        bad.put(Map.of("prompt", "x", "images", List.of(ref("data:image/png;base64,AAAAAAAA"))), new String[]{"images[0].image_url", "PNG or JPEG"});
        bad.put(Map.of("prompt", "x", "images", List.of(ref(png)), "mask", ref("http://localhost/mask.png")), new String[]{"mask.image_url", "does not fetch"});
        bad.put(Map.of("prompt", "x", "images", List.of(ref(png)), "mask", "abc"), new String[]{"mask", "must be an object"});
        bad.put(Map.of("prompt", "x", "images", java.util.Collections.nCopies(9, ref(png))), new String[]{"images", "at most 8"});
        bad.put(Map.of("prompt", "x", "images", List.of(ref(png), ref(png)), "strength", 0.5), new String[]{"images", "give one image"});
        bad.put(Map.of("prompt", "x", "image", png), new String[]{"image", "\"images\""});
        bad.put(Map.of("prompt", 5L, "images", List.of(ref(png))), new String[]{"prompt", "must be a string"});
        bad.put(Map.of("prompt", "x", "images", List.of(ref(png)), "n", "many"), new String[]{"n", "must be an integer"});
        for (var e : bad.entrySet()) {
            String text = e.getKey() instanceof String raw ? raw : Json.write(e.getKey());
            TestServer.Response r = server.send(HttpRequest.newBuilder(server.uri("/v1/images/edits")).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(text)));
            assertEquals(400, r.status(), text + " -> " + r.text());
            Map<?, ?> error = (Map<?, ?>) r.json().get("error");
            assertEquals("invalid_request_error", error.get("type"), r.text());
            assertEquals(e.getValue()[0], error.get("param"), r.text());
            assertTrue(((String) error.get("message")).contains(e.getValue()[1]), text + " -> " + r.text());
        }
        TestServer.Response r = server.send(HttpRequest.newBuilder(server.uri("/v1/images/edits")).header("Content-Type", "text/plain")
                .POST(HttpRequest.BodyPublishers.ofString("x")));
        assertEquals(400, r.status());
        assertTrue(((String) ((Map<?, ?>) r.json().get("error")).get("message")).contains("application/json"), r.text());
        // nothing of the refused requests stays behind
        assertEquals(before, savedInputs());
    }

    @Test
    @SuppressWarnings("unchecked")
    void inpaintingThroughA1111Img2imgAndTheJobsApiEqualsTheCli() throws Exception {
        String prompt = "a bouquet of yellow tulips in a glass vase";
        Path init = input("pi02_inpaint_schnell", "init.png"), mask = input("pi02_inpaint_schnell", "mask.png");
        TestServer.CliImage cli = TestServer.cli(dir, TestServer.tinyModel(), prompt, 64, 102, 4,
                "--init-image", init.toString(), "--mask", mask.toString(), "--strength", "0.75");
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("prompt", prompt);
        body.put("init_images", List.of("data:image/png;base64," + b64(init)));
        body.put("mask", b64(mask));
        body.put("seed", 102L);
        body.put("steps", 4L);
        body.put("mask_blur", 4L);
        body.put("inpainting_fill", 1L);
        TestServer.Response r = server.post("/sdapi/v1/img2img", Json.write(body));
        assertEquals(200, r.status(), r.text());
        assertSamePixels(cli, TestServer.b64(((List<?>) r.json().get("images")).getFirst()));
        Map<String, Object> info = (Map<String, Object>) Json.parse((String) r.json().get("info"));
        assertEquals(0.75, info.get("denoising_strength"));
        assertEquals(true, info.get("is_using_inpainting_conditioning"));
        assertTrue(!((Map<?, ?>) r.json().get("parameters")).containsKey("init_images"), "the echo leaves the images out");

        Map<String, Object> job = new LinkedHashMap<>(Map.of("prompt", prompt, "init_image", b64(init), "mask", "data:image/png;base64," + b64(mask),
                "strength", 0.75, "seed", 102L, "steps", 4L));
        r = server.post("/fluxj/v1/jobs", Json.write(job));
        assertEquals(202, r.status(), r.text());
        Map<String, Object> done = server.awaitStatus((String) r.json().get("id"), "done");
        assertEquals(64L, ((Map<?, ?>) done.get("request")).get("width"), "the size comes from the image");
        String url = (String) ((Map<?, ?>) ((List<?>) done.get("outputs")).getFirst()).get("url");
        assertSamePixels(cli, server.get(url).body());
    }

    @Test
    void aFillModelTakesTheImageAndMaskOfAnEditAsFill() throws IOException {
        // (Kontext references are not run here: Kontext resizes a reference to ~1024x1024, a large encode for a unit
        // test; JobSpecTest checks that a dev model keeps an edit's images as references, the pipeline tests run them)
        String cup = "a white paper cup on a wooden table";
        Path init = input("pi03_fill", "init.png"), mask = input("pi03_fill", "mask.png");
        TestServer.CliImage fillCli = TestServer.cli(dir, fill, cup, 64, 103, 4,
                concat(singleFileParts(), "--init-image", init.toString(), "--mask", mask.toString(), "--guidance", "30"));
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("image", Files.readAllBytes(init));
        files.put("mask", Files.readAllBytes(mask));
        byte[] png = openAiImage(server.send(multipart("/v1/images/edits", Map.of("prompt", cup, "model", fillName,
                "seed", "103", "steps", "4", "guidance", "30"), files)));
        assertSamePixels(fillCli, png);

        // the Fill model is open now: what it cannot take is refused before queueing, naming the problem
        TestServer.Response r = server.post("/v1/images/generations", Json.write(Map.of("prompt", cup, "model", fillName, "size", "64x64")));
        assertEquals(400, r.status(), r.text());
        assertTrue(((String) ((Map<?, ?>) r.json().get("error")).get("message")).contains("Fill"), r.text());
    }

    @Test
    void anOpenAiMaskEditsWhereItIsTransparent() throws IOException {
        BufferedImage m = new BufferedImage(32, 16, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < 16; y++) for (int x = 0; x < 32; x++) m.setRGB(x, y, x < 8 ? 0x00000000 : 0xff102030);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ImageIO.write(m, "png", bytes);
        RgbImage mask = server.server.uploads().saveOpenAiMask("mask", bytes.toByteArray()).pixels();
        for (int x = 0; x < 32; x++) assertEquals(x < 8 ? 255 : 0, mask.rgb()[3 * x] & 0xff, "x " + x);
    }

    @Test
    void badImageRequestsAre400NamingTheField() throws IOException {
        long before = savedInputs();
        Map<HttpRequest.Builder, String> bad = new LinkedHashMap<>();
        bad.put(multipart("/v1/images/edits", Map.of("prompt", "x"), Map.of()), "image");
        bad.put(multipart("/v1/images/edits", Map.of("prompt", "x"), Map.of("image", "not an image".getBytes(StandardCharsets.UTF_8))), "image");
        bad.put(multipart("/v1/images/edits", Map.of("prompt", "x", "strength", "2"), Map.of("image", Files.readAllBytes(input("pi01_img2img_schnell", "init.png")))), "strength");
        Map<String, byte[]> mismatched = new LinkedHashMap<>();
        mismatched.put("image", Files.readAllBytes(input("pi01_img2img_schnell", "init.png")));
        BufferedImage small = new BufferedImage(16, 16, BufferedImage.TYPE_BYTE_GRAY);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(small, "png", out);
        mismatched.put("mask", out.toByteArray());
        bad.put(multipart("/v1/images/edits", Map.of("prompt", "x"), mismatched), "mask");
        bad.put(HttpRequest.newBuilder(server.uri("/v1/images/edits")).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": \"x\"}")), "images");
        bad.put(HttpRequest.newBuilder(server.uri("/v1/images/edits")).header("Content-Type", "multipart/form-data; boundary=zzz").POST(HttpRequest.BodyPublishers.ofString("--zzz\r\ngarbage")), null);
        bad.forEach((req, field) -> {
            TestServer.Response r = server.send(req);
            assertEquals(400, r.status(), r.text());
            assertEquals(field, ((Map<?, ?>) r.json().get("error")).get("param"), r.text());
        });
        TestServer.Response r = server.post("/sdapi/v1/img2img", "{\"prompt\": \"x\"}");
        assertEquals(400, r.status());
        assertTrue(((String) r.json().get("detail")).contains("init_images"), r.text());
        r = server.post("/fluxj/v1/jobs", "{\"prompt\": \"x\", \"mask\": \"AAAA\"}");
        assertEquals("mask", ((Map<?, ?>) r.json().get("error")).get("field"), r.text());
        r = server.post("/fluxj/v1/jobs", "{\"prompt\": \"x\", \"init_image\": \"%%%\"}");
        assertEquals("init_image", ((Map<?, ?>) r.json().get("error")).get("field"), r.text());
        // nothing of the refused requests stays behind
        assertEquals(before, savedInputs());
    }

    /** The number of uploaded inputs the server holds. */
    private long savedInputs() throws IOException {
        try (var files = Files.list(dir.resolve("out").resolve(".jobs").resolve("inputs"))) {
            return files.count();
        }
    }
}
