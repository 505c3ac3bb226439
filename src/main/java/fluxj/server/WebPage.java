package fluxj.server;

import java.io.IOException;
import java.io.InputStream;
import java.util.Map;

/** The web page at {@code /} and its script and style, served from the jar (plain files, no build step). */
final class WebPage {
    private static final Map<String, String> FILES = Map.of(
            "index.html", "text/html; charset=utf-8",
            "app.js", "text/javascript; charset=utf-8",
            "style.css", "text/css; charset=utf-8");
    private final FluxServer server;

    WebPage(FluxServer server) {
        this.server = server;
    }

    void register() {
        server.route("GET", "/", FluxServer.Api.NATIVE, true, c -> send(c, "index.html"));
        server.route("GET", "/web/([a-z]+\\.[a-z]+)", FluxServer.Api.NATIVE, true, c -> send(c, c.path.group(1)));
    }

    private static void send(Call c, String name) throws IOException {
        String type = FILES.get(name);
        if (type == null) throw new ApiException(404, null, "no such file: " + name);
        try (InputStream in = WebPage.class.getResourceAsStream("web/" + name)) {
            if (in == null) throw new IllegalStateException("the jar lacks the web page's " + name);
            c.ex.getResponseHeaders().set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self'");
            c.ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
            c.send(200, type, in.readAllBytes());
        }
    }
}
