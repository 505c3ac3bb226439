package fluxj.pipeline;

import fluxj.io.Json;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Model files from a Hugging Face Hub repo, kept in the standard Hugging Face cache so that files other tools
 * downloaded are reused and the other way round: {@code models--ORG--NAME/blobs/<etag>}, {@code snapshots/<commit>/path}
 * links to the blobs, {@code refs/main} holding the commit. Downloads resume from {@code <blob>.incomplete} with
 * HTTP Range requests and LFS files are checked against their SHA-256 (the hub's X-Linked-Etag).
 */
public final class HubClient {
    /** Download progress, for a progress bar. */
    public interface Listener {
        Listener NONE = new Listener() {};

        default void message(String text) {}

        default void downloadStarted(String file, long resumedFrom, long total) {}

        default void downloadProgress(String file, long done, long total) {}

        default void downloadDone(String file) {}
    }

    /**
     * Where the hub and the cache are.
     *
     * @param token   bearer token for gated or private repos, or null
     * @param offline never touch the network (HF_HUB_OFFLINE=1)
     */
    public record Config(URI endpoint, Path cacheDir, String token, boolean offline, Duration connectTimeout) {
        public static final String DEFAULT_ENDPOINT = "https://huggingface.co";

        /** HF_ENDPOINT, HF_HUB_CACHE / HF_HOME / XDG_CACHE_HOME, HF_TOKEN (or HUGGING_FACE_HUB_TOKEN), HF_HUB_OFFLINE. */
        public static Config fromEnvironment() {
            Map<String, String> env = System.getenv();
            String endpoint = env.getOrDefault("HF_ENDPOINT", DEFAULT_ENDPOINT).replaceAll("/+$", "");
            Path cache;
            if (env.get("HF_HUB_CACHE") != null) cache = Path.of(env.get("HF_HUB_CACHE"));
            else if (env.get("HF_HOME") != null) cache = Path.of(env.get("HF_HOME"), "hub");
            else if (env.get("XDG_CACHE_HOME") != null) cache = Path.of(env.get("XDG_CACHE_HOME"), "huggingface", "hub");
            else cache = Path.of(System.getProperty("user.home"), ".cache", "huggingface", "hub");
            String token = Optional.ofNullable(env.get("HF_TOKEN")).orElse(env.get("HUGGING_FACE_HUB_TOKEN"));
            boolean offline = Stream.of("1", "true", "yes", "on").anyMatch(v -> v.equalsIgnoreCase(env.getOrDefault("HF_HUB_OFFLINE", "")));
            return new Config(URI.create(endpoint), cache, token == null || token.isBlank() ? null : token.strip(), offline, Duration.ofSeconds(5));
        }
    }

    /** A failure to get files from the hub; the message says what to do. */
    public static final class HubException extends IOException {
        public HubException(String message) { super(message); }
    }

    private final Config config;
    private final HttpClient http;

    public HubClient(Config config) {
        this.config = config;
        this.http = HttpClient.newBuilder().connectTimeout(config.connectTimeout()).followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /** The cache folder of a repo: {@code models--ORG--NAME}. */
    public Path repoDir(String repoId) {
        return config.cacheDir().resolve("models--" + repoId.replace("/", "--"));
    }

    /**
     * The snapshot folder of {@code repoId} at its main revision holding every file {@code wanted} selects,
     * from the cache when complete there ({@code complete} checks it), else downloaded.
     */
    public Path snapshot(String repoId, Predicate<String> wanted, Predicate<Path> complete, Listener listener) throws IOException {
        Optional<Path> cached = cachedSnapshot(repoId).filter(complete);
        if (cached.isPresent()) return cached.get();
        if (config.offline()) {
            throw new HubException(repoId + " is not complete in the Hugging Face cache " + repoDir(repoId) + " and HF_HUB_OFFLINE is set; unset it to download, or pass --model DIR|FILE");
        }
        Map<String, Object> info = apiInfo(repoId);
        if (!(info.get("sha") instanceof String sha) || !sha.matches("[0-9a-fA-F]{40}")) {
            throw new HubException(config.endpoint() + ": unexpected answer for " + repoId + " (no commit sha)");
        }
        if (!(info.get("siblings") instanceof List<?> siblings)) throw new HubException(config.endpoint() + ": unexpected answer for " + repoId + " (no file list)");
        List<String> files = siblings.stream()
                .map(s -> s instanceof Map<?, ?> m && m.get("rfilename") instanceof String f ? f : null)
                .filter(f -> f != null && wanted.test(f)).sorted().toList();
        if (files.isEmpty()) throw new HubException(repoId + " holds none of the files fluxj needs (is it a FLUX.1 diffusers repo?)");
        Path snap = repoDir(repoId).resolve("snapshots").resolve(sha);
        for (String f : files) {
            Path target = snap.resolve(f);
            if (Files.exists(target)) continue;
            download(repoId, sha, f, target, listener);
        }
        Path ref = repoDir(repoId).resolve("refs").resolve("main");
        Files.createDirectories(ref.getParent());
        Files.writeString(ref, sha);
        return snap;
    }

    /** The snapshot {@code refs/main} points to, if the cache has it. */
    private Optional<Path> cachedSnapshot(String repoId) throws IOException {
        Path ref = repoDir(repoId).resolve("refs").resolve("main");
        if (!Files.isRegularFile(ref)) return Optional.empty();
        Path snap = repoDir(repoId).resolve("snapshots").resolve(Files.readString(ref).strip());
        return Files.isDirectory(snap) ? Optional.of(snap) : Optional.empty();
    }

    private Map<String, Object> apiInfo(String repoId) throws IOException {
        URI uri = URI.create(config.endpoint() + "/api/models/" + repoId + "/revision/main");
        HttpResponse<byte[]> r = send(request(uri).GET().build(), HttpResponse.BodyHandlers.ofByteArray(), repoId);
        checkStatus(r.statusCode(), repoId, "/api/models/" + repoId);
        Object v;
        try {
            v = Json.parse(new String(r.body(), StandardCharsets.UTF_8));
        } catch (Json.JsonException e) {
            throw new HubException(uri + ": not a JSON answer (" + e.getMessage() + ")");
        }
        if (!(v instanceof Map<?, ?>)) throw new HubException(uri + ": not a JSON object");
        @SuppressWarnings("unchecked") Map<String, Object> m = (Map<String, Object>) v;
        return m;
    }

    private HttpRequest.Builder request(URI uri) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).header("User-Agent", "fluxj/0.1");
        if (config.token() != null) b.header("Authorization", "Bearer " + config.token());
        return b;
    }

    private void checkStatus(int status, String repoId, String what) throws HubException {
        if (status == 200 || status == 206) return;
        if (status == 401 || status == 403) {
            throw new HubException(repoId + " is gated or private (HTTP " + status + "): accept its license at "
                    + config.endpoint() + "/" + repoId + " and set HF_TOKEN to an access token"
                    + (config.token() == null ? " (none is set)" : " (the one set has no access)"));
        }
        if (status == 404) throw new HubException(config.endpoint() + "/" + repoId + ": not found (HTTP 404) for " + what + "; check the repo id");
        throw new HubException(config.endpoint() + " answered HTTP " + status + " for " + what);
    }

    private <T> HttpResponse<T> send(HttpRequest req, HttpResponse.BodyHandler<T> handler, String repoId) throws IOException {
        try {
            return http.send(req, handler);
        } catch (HttpConnectTimeoutException | ConnectException | UnresolvedAddressException e) {
            throw offline(repoId, e);
        } catch (HttpTimeoutException e) {
            throw new HubException(req.uri().getHost() + " timed out while fetching " + repoId + "; try again, or pass --model DIR|FILE");
        } catch (IOException e) {
            if (e.getCause() instanceof UnresolvedAddressException || e.getCause() instanceof ConnectException) throw offline(repoId, e);
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while fetching " + repoId);
        }
    }

    private HubException offline(String repoId, Exception e) {
        return new HubException("cannot reach " + config.endpoint() + " to download " + repoId + " (" + (e.getMessage() == null ? "no connection: " + e.getClass().getSimpleName() : e.getMessage())
                + "). It is not in the Hugging Face cache " + repoDir(repoId) + "; connect to the internet, set HF_ENDPOINT to a mirror, or pass --model DIR|FILE with local weights");
    }

    /** Follows redirects by hand so the token goes only to the hub's own host, not to a CDN it redirects to. */
    private HttpResponse<InputStream> get(URI uri, long from, String repoId) throws IOException {
        String host = config.endpoint().getHost();
        for (int hop = 0; hop < 10; hop++) {
            HttpRequest.Builder b = host.equalsIgnoreCase(uri.getHost()) ? request(uri) : HttpRequest.newBuilder(uri).header("User-Agent", "fluxj/0.1");
            if (from > 0) b.header("Range", "bytes=" + from + "-");
            HttpResponse<InputStream> r = send(b.GET().build(), HttpResponse.BodyHandlers.ofInputStream(), repoId);
            int s = r.statusCode();
            if (s >= 300 && s < 400 && r.headers().firstValue("Location").isPresent()) {
                r.body().close();
                uri = uri.resolve(r.headers().firstValue("Location").get());
                continue;
            }
            return r;
        }
        throw new HubException(uri + ": too many redirects");
    }

    private void download(String repoId, String sha, String file, Path target, Listener listener) throws IOException {
        URI uri = URI.create(config.endpoint() + "/" + repoId + "/resolve/" + sha + "/" + encodePath(file));
        HttpResponse<Void> head = send(request(uri).method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding(), repoId);
        if (head.statusCode() >= 400) checkStatus(head.statusCode(), repoId, file);
        String etag = head.headers().firstValue("X-Linked-Etag").or(() -> head.headers().firstValue("ETag"))
                .map(HubClient::cleanEtag).orElseThrow(() -> new HubException(uri + ": no ETag, cannot place the file in the cache"));
        if (!etag.matches("[0-9A-Za-z._-]+")) throw new HubException(uri + ": unusable ETag '" + etag + "'");
        long size = head.headers().firstValue("X-Linked-Size")
                .or(() -> head.statusCode() == 200 ? head.headers().firstValue("Content-Length") : Optional.empty())
                .map(Long::parseLong).orElse(-1L);
        Path blobs = repoDir(repoId).resolve("blobs");
        Files.createDirectories(blobs);
        Path blob = blobs.resolve(etag);
        if (!Files.exists(blob)) fetchBlob(uri, repoId, file, etag, size, blob, listener);
        link(blob, target);
    }

    private void fetchBlob(URI uri, String repoId, String file, String etag, long size, Path blob, Listener listener) throws IOException {
        Path part = blob.resolveSibling(etag + ".incomplete");
        long have = Files.exists(part) ? Files.size(part) : 0;
        boolean lfs = etag.matches("[0-9a-f]{64}"); // LFS files are named by their SHA-256
        HttpResponse<InputStream> r = get(uri, have, repoId);
        if (r.statusCode() == 416 && have == size) {
            r.body().close();
        } else {
            if (r.statusCode() != 206 && r.statusCode() != 200) {
                r.body().close();
                checkStatus(r.statusCode(), repoId, file);
            }
            boolean append = r.statusCode() == 206 && have > 0;
            if (!append) have = 0;
            listener.downloadStarted(file, have, size);
            try (InputStream in = r.body();
                 OutputStream out = Files.newOutputStream(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                         append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
                byte[] buf = new byte[1 << 16];
                long done = have, lastReport = 0;
                for (int n; (n = in.read(buf)) > 0; ) {
                    out.write(buf, 0, n);
                    done += n;
                    if (done - lastReport >= (1 << 22)) {
                        listener.downloadProgress(file, done, size);
                        lastReport = done;
                    }
                }
                listener.downloadProgress(file, done, size);
            }
        }
        if (size >= 0 && Files.size(part) != size) {
            throw new HubException(file + ": download incomplete (" + Files.size(part) + " of " + size + " bytes); run again to resume");
        }
        if (lfs) {
            String got = sha256(part);
            if (!got.equals(etag)) {
                Files.delete(part);
                throw new HubException(file + ": checksum mismatch (SHA-256 " + got + ", the hub says " + etag + "); the partial file was deleted, run again to download it afresh");
            }
        }
        Files.move(part, blob, StandardCopyOption.ATOMIC_MOVE);
        listener.downloadDone(file);
    }

    /** Links {@code target} to {@code blob} (relative symlink as huggingface_hub does; a copy where links fail). */
    private static void link(Path blob, Path target) throws IOException {
        Files.createDirectories(target.getParent());
        try {
            Files.createSymbolicLink(target, target.getParent().relativize(blob));
        } catch (FileAlreadyExistsException e) {
            // another process linked it meanwhile
        } catch (UnsupportedOperationException | IOException e) {
            Files.copy(blob, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    static String cleanEtag(String e) {
        String s = e.strip();
        if (s.startsWith("W/")) s = s.substring(2);
        return s.replace("\"", "");
    }

    private static String encodePath(String path) {
        StringBuilder b = new StringBuilder();
        for (String seg : path.split("/")) {
            if (!b.isEmpty()) b.append('/');
            b.append(URLEncoder.encode(seg, StandardCharsets.UTF_8).replace("+", "%20"));
        }
        return b.toString();
    }

    static String sha256(Path file) throws IOException {
        return ModelHash.sha256(List.of(file));
    }
}
