package fluxj.server;

import fluxj.io.Json;
import fluxj.pipeline.Conditioning;
import fluxj.pipeline.FluxPipeline;
import fluxj.pipeline.HubClient;
import fluxj.pipeline.ModelInfo;
import fluxj.pipeline.ModelSource;
import fluxj.pipeline.PngFiles;
import fluxj.pipeline.RgbImage;
import fluxj.sampling.Schedule;
import fluxj.testing.Cli;
import fluxj.testing.Fixtures;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A server on a free loopback port, and a client speaking to it over real HTTP. */
final class TestServer implements AutoCloseable {
    final FluxServer server;
    final Path dir;
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private TestServer(FluxServer server, Path dir) {
        this.server = server;
        this.dir = dir;
    }

    static FluxServer.Config config(Path dir) {
        return new FluxServer.Config("127.0.0.1", 0, null, false, null, dir, 8, Limits.DEFAULT, new ServeSettings(0, null));
    }

    static TestServer start(FluxServer.Config config, Models models) throws IOException {
        return new TestServer(FluxServer.start(config, models), config.outputDir());
    }

    static Path tinyModel() {
        return Fixtures.model("flux1-tiny-schnell");
    }

    /** The tiny schnell fixture model (diffusers layout), as {@code --model} names it. */
    static Models tiny() throws IOException {
        return Models.of(List.of(ModelSource.of(tinyModel().toString())), HubClient.Listener.NONE);
    }

    /**
     * A model of fake parts whose every transformer step takes one permit of {@code gate} (tests hold jobs at a
     * step and let them go); its latents are all zero, its images mid-grey.
     */
    static Models.Served gated(String name, Semaphore gate) {
        Conditioning cond = new Conditioning(new float[4], 1, new float[4], List.of());
        ModelInfo info = new ModelInfo(name, () -> "0123456789", false, 16, 256, Schedule.SCHNELL);
        return new Models.Served(name, "/models/" + name, () -> new FluxPipeline(new FluxPipeline.Parts(info, p -> cond,
                (img, h, w, t, c, g) -> {
                    gate.acquireUninterruptibly();
                    return new float[img.length];
                },
                (z, h, w) -> new float[3 * 64 * h * w], null, null)));
    }

    /** A fake model that never waits. */
    static Models.Served free(String name) {
        Semaphore unlimited = new Semaphore(Integer.MAX_VALUE);
        return gated(name, unlimited);
    }

    record Response(int status, HttpHeaders headers, byte[] body) {
        String text() { return new String(body, StandardCharsets.UTF_8); }

        @SuppressWarnings("unchecked")
        Map<String, Object> json() { return (Map<String, Object>) Json.parse(text()); }

        Object jsonValue() { return Json.parse(text()); }
    }

    URI uri(String path) {
        return server.uri().resolve(path);
    }

    Response send(HttpRequest.Builder b) {
        try {
            HttpResponse<byte[]> r = client.send(b.timeout(Duration.ofSeconds(120)).build(), HttpResponse.BodyHandlers.ofByteArray());
            return new Response(r.statusCode(), r.headers(), r.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    Response get(String path, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).GET();
        if (headers.length > 0) b.headers(headers);
        return send(b);
    }

    Response post(String path, String json, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).POST(HttpRequest.BodyPublishers.ofString(json)).header("Content-Type", "application/json");
        if (headers.length > 0) b.headers(headers);
        return send(b);
    }

    HttpClient client() { return client; }

    /** Waits (bounded) until the job has the status. */
    Map<String, Object> awaitStatus(String id, String status) throws InterruptedException {
        long end = System.currentTimeMillis() + 60_000;
        while (true) {
            Map<String, Object> j = get("/fluxj/v1/jobs/" + id).json();
            if (status.equals(j.get("status"))) return j;
            if (System.currentTimeMillis() > end) throw new AssertionError("job " + id + " never became " + status + ": " + j);
            Thread.sleep(20);
        }
    }

    static RgbImage png(byte[] bytes) throws IOException {
        Path tmp = Files.createTempFile("fluxj-test", ".png");
        try {
            Files.write(tmp, bytes);
            return PngFiles.readImage(tmp);
        } finally {
            Files.delete(tmp);
        }
    }

    static String parameters(byte[] png) throws IOException {
        Path tmp = Files.createTempFile("fluxj-test", ".png");
        try {
            Files.write(tmp, png);
            return PngFiles.readParameters(tmp).orElseThrow();
        } finally {
            Files.delete(tmp);
        }
    }

    static byte[] b64(Object s) {
        return Base64.getDecoder().decode((String) s);
    }

    /** What {@code fluxj generate} writes for the same request (the reference every API must equal). */
    record CliImage(RgbImage image, String parameters) {}

    static CliImage cli(Path dir, Path model, String prompt, int size, long seed, int steps, String... extra) throws IOException {
        Path out = dir.resolve("cli-" + seed + "-" + steps + "-" + Math.abs(prompt.hashCode()) + ".png");
        List<String> args = new ArrayList<>(List.of("generate", "--model", model.toString(), "--prompt", prompt, "--width", "" + size,
                "--height", "" + size, "--seed", "" + seed, "--steps", "" + steps, "--output", out.toString(), "--overwrite", "--quiet"));
        args.addAll(List.of(extra));
        Cli.Run r = Cli.run(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        return new CliImage(PngFiles.readImage(out), PngFiles.readParameters(out).orElseThrow());
    }

    /** The same pixels (PSNR infinite) and the same parameters text as the CLI's image. */
    static void assertSameAsCli(CliImage expected, byte[] png) throws IOException {
        RgbImage got = png(png);
        assertEquals(Double.POSITIVE_INFINITY, got.psnr(expected.image()), "PSNR against the CLI's image");
        assertEquals(expected.parameters(), parameters(png));
    }

    static void assertPng(byte[] bytes) {
        assertTrue(bytes.length > 8 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G', "not a PNG");
    }

    @Override
    public void close() {
        server.close();
    }
}
