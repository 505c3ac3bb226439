package fluxj.pipeline;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Hugging Face download against a local fake hub: cache layout, resume, checksum, gated repos, offline. */
class HubClientTest {
    private static final String REPO = "org/model", SHA = "0123456789abcdef0123456789abcdef01234567";
    private HttpServer server;
    private final byte[] weights = new byte[300_000];
    private final byte[] config = "{\"a\": 1}".getBytes(StandardCharsets.UTF_8);
    private String weightsEtag;
    private volatile int status = 200;
    private final List<String> log = new CopyOnWriteArrayList<>();
    private final Map<String, String> authSeen = new LinkedHashMap<>();

    @TempDir
    Path cache;

    @BeforeEach
    void start() throws Exception {
        for (int i = 0; i < weights.length; i++) weights[i] = (byte) (i * 31 + 7);
        weightsEtag = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(weights));
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath(), range = ex.getRequestHeaders().getFirst("Range");
        log.add(ex.getRequestMethod() + " " + path + (range == null ? "" : " " + range));
        synchronized (authSeen) {
            authSeen.put(path, String.valueOf(ex.getRequestHeaders().getFirst("Authorization")));
        }
        if (status != 200) {
            send(ex, status, new byte[0]);
            return;
        }
        String resolve = "/" + REPO + "/resolve/" + SHA + "/";
        if (path.equals("/api/models/" + REPO + "/revision/main")) {
            send(ex, 200, ("{\"sha\": \"" + SHA + "\", \"siblings\": [{\"rfilename\": \"transformer/config.json\"},"
                    + " {\"rfilename\": \"transformer/w.safetensors\"}, {\"rfilename\": \"README.md\"}]}").getBytes(StandardCharsets.UTF_8));
        } else if (path.equals(resolve + "transformer/config.json")) {
            ex.getResponseHeaders().add("ETag", "\"1111111111111111111111111111111111111111\"");
            send(ex, 200, config);
        } else if (path.equals(resolve + "transformer/w.safetensors")) {
            // LFS: the hub redirects to a CDN on another host (here 127.0.0.1 vs localhost)
            ex.getResponseHeaders().add("X-Linked-Etag", "\"" + weightsEtag + "\"");
            ex.getResponseHeaders().add("X-Linked-Size", String.valueOf(weights.length));
            ex.getResponseHeaders().add("Location", "http://127.0.0.1:" + server.getAddress().getPort() + "/cdn/w");
            send(ex, 302, new byte[0]);
        } else if (path.equals("/cdn/w")) {
            int from = range == null ? 0 : Integer.parseInt(range.replaceAll("bytes=(\\d+)-", "$1"));
            byte[] body = java.util.Arrays.copyOfRange(weights, from, weights.length);
            if (from > 0) ex.getResponseHeaders().add("Content-Range", "bytes " + from + "-" + (weights.length - 1) + "/" + weights.length);
            send(ex, from > 0 ? 206 : 200, body);
        } else {
            send(ex, 404, new byte[0]);
        }
    }

    private static void send(HttpExchange ex, int code, byte[] body) throws IOException {
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(code, head || body.length == 0 ? -1 : body.length);
        if (!head && body.length > 0) try (OutputStream o = ex.getResponseBody()) { o.write(body); }
        ex.close();
    }

    private HubClient client(String token) {
        URI endpoint = URI.create("http://localhost:" + server.getAddress().getPort());
        return new HubClient(new HubClient.Config(endpoint, cache, token, false, Duration.ofSeconds(3)));
    }

    private Path fetch(HubClient c) throws IOException {
        return c.snapshot(REPO, f -> f.startsWith("transformer/"), s -> Files.exists(s.resolve("transformer/w.safetensors")), HubClient.Listener.NONE);
    }

    @Test
    void downloadsIntoTheHuggingFaceCacheLayout() throws IOException {
        Path snap = fetch(client("secret"));
        Path repo = cache.resolve("models--org--model");
        assertEquals(repo.resolve("snapshots").resolve(SHA), snap);
        assertEquals(SHA, Files.readString(repo.resolve("refs/main")));
        assertArrayEquals(weights, Files.readAllBytes(snap.resolve("transformer/w.safetensors")));
        assertArrayEquals(config, Files.readAllBytes(snap.resolve("transformer/config.json")));
        assertTrue(Files.isSymbolicLink(snap.resolve("transformer/w.safetensors")));
        assertTrue(Files.isRegularFile(repo.resolve("blobs").resolve(weightsEtag)));
        assertFalse(Files.exists(snap.resolve("README.md")), "only the files asked for");
        // the token goes to the hub, never to the CDN it redirects to
        assertEquals("Bearer secret", authSeen.get("/api/models/" + REPO + "/revision/main"));
        assertEquals("null", authSeen.get("/cdn/w"));

        log.clear();
        assertEquals(snap, fetch(client("secret")));
        assertEquals(List.of(), log, "a complete cached snapshot needs no network");
    }

    @Test
    void resumesAPartialDownload() throws IOException {
        Path blobs = Files.createDirectories(cache.resolve("models--org--model/blobs"));
        Files.write(blobs.resolve(weightsEtag + ".incomplete"), java.util.Arrays.copyOf(weights, 100_000));
        Path snap = fetch(client(null));
        assertTrue(log.contains("GET /cdn/w bytes=100000-"), log.toString());
        assertArrayEquals(weights, Files.readAllBytes(snap.resolve("transformer/w.safetensors")));
        assertFalse(Files.exists(blobs.resolve(weightsEtag + ".incomplete")));
    }

    @Test
    void checksumMismatchIsAnErrorAndDropsThePartialFile() {
        weightsEtag = "ab".repeat(32); // the hub claims a SHA-256 the bytes do not have
        var e = assertThrows(HubClient.HubException.class, () -> fetch(client(null)));
        assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
        assertFalse(Files.exists(cache.resolve("models--org--model/blobs/" + weightsEtag + ".incomplete")));
        assertFalse(Files.exists(cache.resolve("models--org--model/blobs/" + weightsEtag)));
    }

    @Test
    void gatedRepoSaysToAcceptTheLicenseAndSetHfToken() {
        status = 401;
        var e = assertThrows(HubClient.HubException.class, () -> fetch(client(null)));
        assertTrue(e.getMessage().contains("gated") && e.getMessage().contains("HF_TOKEN") && e.getMessage().contains("/org/model"), e.getMessage());
    }

    @Test
    void unreachableHubFailsFastWithAClearMessage() throws IOException {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        HubClient c = new HubClient(new HubClient.Config(URI.create("http://127.0.0.1:" + closedPort), cache, null, false, Duration.ofSeconds(3)));
        long t0 = System.nanoTime();
        var e = assertThrows(HubClient.HubException.class, () -> fetch(c));
        assertTrue(System.nanoTime() - t0 < 10_000_000_000L, "must fail within the connect timeout");
        assertTrue(e.getMessage().contains("cannot reach") && e.getMessage().contains("--model"), e.getMessage());
    }

    @Test
    void offlineModeNeverConnects() {
        HubClient c = new HubClient(new HubClient.Config(URI.create("http://localhost:" + server.getAddress().getPort()), cache, null, true, Duration.ofSeconds(3)));
        var e = assertThrows(HubClient.HubException.class, () -> fetch(c));
        assertTrue(e.getMessage().contains("HF_HUB_OFFLINE"), e.getMessage());
        assertEquals(List.of(), log);
    }

    @Test
    void etagsAreUnquoted() {
        assertEquals("abc", HubClient.cleanEtag("W/\"abc\""));
        assertEquals("abc", HubClient.cleanEtag(" \"abc\""));
    }
}
