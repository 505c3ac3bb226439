package fluxj.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import fluxj.pipeline.HubClient;
import fluxj.pipeline.ModelSource;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code fluxj serve}: the OpenAI Images API, the AUTOMATIC1111 API and fluxj's own jobs API (with server-sent
 * progress events) over one job queue, and a web page, on the JDK's HTTP server. Requests are answered on virtual
 * threads; images are made one at a time by the queue's worker.
 *
 * <p>Safety: loopback unless told otherwise, and then only with an API key (or {@code insecure}); bodies capped;
 * every bound checked; CORS headers only for the configured origin.
 */
public final class FluxServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(FluxServer.class.getName());

    /**
     * @param apiKey     required as {@code Authorization: Bearer KEY} (or as the password of Basic auth) when set
     * @param corsOrigin the origin allowed to call from a browser page ("*" for any); null = no CORS headers
     * @param queueSize  jobs that may wait; more are refused with 429
     */
    public record Config(String host, int port, String apiKey, boolean insecure, String corsOrigin, Path outputDir,
                         int queueSize, Limits limits, ServeSettings settings) {
        public Config {
            if (apiKey != null && apiKey.isBlank()) throw new IllegalArgumentException("--api-key must not be empty");
            if (port < 0 || port > 65535) throw new IllegalArgumentException("--port must be between 0 and 65535, got " + port);
        }
    }

    /** The APIs differ in their error shapes. */
    enum Api { NATIVE, OPENAI, A1111 }

    interface Handler {
        void handle(Call call) throws IOException;
    }

    private record Route(String method, Pattern path, Api api, boolean open, Handler handler) {}

    private final Config config;
    private final JobQueue queue;
    private final Uploads uploads;
    private final HttpServer http;
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    private final List<Route> routes = new ArrayList<>();

    private FluxServer(Config config, JobQueue queue, Uploads uploads, HttpServer http) {
        this.config = config;
        this.queue = queue;
        this.uploads = uploads;
        this.http = http;
    }

    /**
     * Opens the first model, resumes journaled jobs and starts listening. Fails before listening when the host is
     * beyond loopback without an API key (unless {@code insecure}).
     */
    public static FluxServer start(Config c, List<ModelSource> sources, HubClient.Listener listener) throws IOException {
        checkHost(c);
        return start(c, Models.of(sources, listener));
    }

    private static InetAddress checkHost(Config c) throws IOException {
        InetAddress addr = InetAddress.getByName(c.host());
        if (!addr.isLoopbackAddress() && c.apiKey() == null && !c.insecure()) {
            throw new IllegalArgumentException("refusing to listen on " + c.host() + " (beyond this machine) without --api-key; "
                    + "give one, or --insecure to serve anyone who can reach the port");
        }
        return addr;
    }

    static FluxServer start(Config c, Models models) throws IOException {
        InetAddress addr;
        try {
            addr = checkHost(c);
        } catch (IOException | RuntimeException e) {
            models.close();
            throw e;
        }
        JobQueue queue = null;
        try {
            models.pipeline(models.current());
            queue = new JobQueue(models, c.outputDir(), c.queueSize(), c.limits(), c.settings());
            HttpServer http = HttpServer.create(new InetSocketAddress(addr, c.port()), 64);
            // an input image may be larger than the largest output (it is resized), within reason
            long maxInputPixels = 4L * c.limits().maxSide() * c.limits().maxSide();
            FluxServer s = new FluxServer(c, queue, new Uploads(queue.outputDir().resolve(".jobs").resolve("inputs"), maxInputPixels), http);
            s.routes();
            http.createContext("/", s::dispatch);
            http.setExecutor(s.threads);
            queue.start();
            http.start();
            return s;
        } catch (IOException | RuntimeException e) {
            if (queue != null) queue.close();
            models.close();
            throw e;
        }
    }

    public int port() { return http.getAddress().getPort(); }

    public URI uri() {
        InetSocketAddress a = http.getAddress();
        String host = a.getAddress() instanceof java.net.Inet6Address ? "[" + a.getAddress().getHostAddress() + "]" : a.getAddress().getHostAddress();
        return URI.create("http://" + host + ":" + a.getPort() + "/");
    }

    JobQueue queue() { return queue; }

    Uploads uploads() { return uploads; }

    /**
     * Submits a job; when it is refused (a full queue, a model that cannot take its images) the input images saved
     * for it are deleted again.
     */
    Job submit(JobSpec spec) {
        try {
            return queue.submit(spec);
        } catch (ApiException e) {
            for (var c : spec.request().conditions()) uploads.forget(c);
            throw e;
        }
    }

    Config config() { return config; }

    void route(String method, String path, Api api, boolean open, Handler h) {
        routes.add(new Route(method, Pattern.compile(path), api, open, h));
    }

    private void routes() {
        new JobsApi(this).register();
        new OpenAiApi(this).register();
        new A1111Api(this).register();
        new WebPage(this).register();
    }

    private void dispatch(HttpExchange ex) {
        String path = ex.getRequestURI().getPath();
        String method = ex.getRequestMethod();
        Call call = null;
        Api api = path.startsWith("/v1/") ? Api.OPENAI : path.startsWith("/sdapi/") ? Api.A1111 : Api.NATIVE;
        try {
            cors(ex);
            if (method.equals("OPTIONS") && config.corsOrigin() != null) {
                ex.getResponseHeaders().set("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
                ex.getResponseHeaders().set("Access-Control-Allow-Headers", "Authorization, Content-Type");
                ex.getResponseHeaders().set("Access-Control-Max-Age", "600");
                ex.sendResponseHeaders(204, -1);
                ex.close();
                return;
            }
            Route found = null;
            List<String> allowed = new ArrayList<>();
            Matcher m = null;
            for (Route r : routes) {
                Matcher rm = r.path().matcher(path);
                if (!rm.matches()) continue;
                if (r.method().equals(method)) {
                    found = r;
                    m = rm;
                    break;
                }
                allowed.add(r.method());
            }
            call = new Call(ex, m, config.limits().maxBodyBytes());
            if (found == null) {
                if (!allowed.isEmpty()) {
                    ex.getResponseHeaders().set("Allow", String.join(", ", allowed));
                    throw new ApiException(405, null, method + " is not allowed on " + path + " (allowed: " + String.join(", ", allowed) + ")");
                }
                throw new ApiException(404, null, "no such endpoint: " + method + " " + path);
            }
            api = found.api();
            if (!found.open() && !authorized(ex)) {
                ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"fluxj\"");
                throw new ApiException(401, null, "missing or wrong API key: send 'Authorization: Bearer KEY'");
            }
            found.handler().handle(call);
            if (!call.replied()) throw new IllegalStateException("no reply for " + method + " " + path);
        } catch (ApiException e) {
            fail(ex, call, api, e);
        } catch (IOException e) {
            // the client went away mid-reply: nothing left to tell it
            LOG.log(System.Logger.Level.DEBUG, "connection lost on " + path + ": " + e.getMessage());
            ex.close();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "error answering " + method + " " + path, e);
            fail(ex, call, api, new ApiException(500, null, "internal error: " + (e.getMessage() == null ? e.toString() : e.getMessage())));
        }
    }

    private void cors(HttpExchange ex) {
        String allowed = config.corsOrigin();
        if (allowed == null) return;
        String origin = ex.getRequestHeaders().getFirst("Origin");
        if (allowed.equals("*")) ex.getResponseHeaders().set("Access-Control-Allow-Origin", "*");
        else if (allowed.equals(origin)) {
            ex.getResponseHeaders().set("Access-Control-Allow-Origin", origin);
            ex.getResponseHeaders().set("Vary", "Origin");
        }
    }

    private boolean authorized(HttpExchange ex) {
        if (config.apiKey() == null) return true;
        String h = ex.getRequestHeaders().getFirst("Authorization");
        if (h == null) return false;
        String given = null;
        if (h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            given = h.substring(7).strip();
        } else if (h.regionMatches(true, 0, "Basic ", 0, 6)) {
            // A1111 clients (SillyTavern, Open WebUI) send --api-auth user:password as Basic auth: the password is the key
            try {
                String up = new String(Base64.getDecoder().decode(h.substring(6).strip()), StandardCharsets.UTF_8);
                int colon = up.indexOf(':');
                given = colon < 0 ? up : up.substring(colon + 1);
            } catch (IllegalArgumentException e) {
                return false;
            }
        }
        return given != null && MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), config.apiKey().getBytes(StandardCharsets.UTF_8));
    }

    private static void fail(HttpExchange ex, Call call, Api api, ApiException e) {
        if (call != null && call.replied()) {
            ex.close();
            return;
        }
        e.headers().forEach((k, v) -> ex.getResponseHeaders().set(k, v));
        if (e.status() == 413) ex.getResponseHeaders().set("Connection", "close");
        Map<String, Object> body = new LinkedHashMap<>();
        switch (api) {
            case OPENAI -> {
                Map<String, Object> err = new LinkedHashMap<>();
                err.put("message", e.getMessage());
                err.put("type", e.status() == 429 ? "rate_limit_error" : e.status() == 401 ? "authentication_error"
                        : e.status() >= 500 ? "server_error" : "invalid_request_error");
                err.put("param", e.field());
                err.put("code", null);
                body.put("error", err);
            }
            case A1111 -> {
                body.put("error", switch (e.status()) {
                    case 400, 413 -> "BadRequest";
                    case 401 -> "Unauthorized";
                    case 404 -> "NotFound";
                    case 429 -> "TooManyRequests";
                    default -> "HTTPException";
                });
                body.put("detail", e.getMessage());
                body.put("body", "");
                body.put("errors", e.getMessage());
            }
            case NATIVE -> {
                Map<String, Object> err = new LinkedHashMap<>();
                err.put("status", (long) e.status());
                err.put("message", e.getMessage());
                err.put("field", e.field());
                body.put("error", err);
            }
        }
        try {
            Call c = call != null ? call : new Call(ex, null, 0);
            c.json(e.status(), body);
        } catch (IOException io) {
            ex.close();
        }
    }

    /** Stops accepting requests and jobs, lets the running job finish, keeps queued ones journaled, closes the model. */
    @Override
    public void close() {
        queue.close();
        http.stop(1);
        threads.shutdownNow();
        queue.models().close();
    }
}
