package fluxj.server;

import com.sun.net.httpserver.HttpExchange;
import fluxj.io.Json;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;

/** One HTTP request being answered: its path parameters, its body (read within the size limit) and the reply. */
final class Call {
    final HttpExchange ex;
    final Matcher path;
    private final long maxBody;
    private byte[] body;
    private boolean replied;

    Call(HttpExchange ex, Matcher path, long maxBody) {
        this.ex = ex;
        this.path = path;
        this.maxBody = maxBody;
    }

    String method() { return ex.getRequestMethod(); }

    String header(String name) { return ex.getRequestHeaders().getFirst(name); }

    boolean replied() { return replied; }

    /** The request body, refused with 413 when it is (or announces itself) larger than the limit. */
    byte[] body() throws IOException {
        if (body != null) return body;
        String len = header("Content-Length");
        if (len != null) {
            long n;
            try {
                n = Long.parseLong(len.strip());
            } catch (NumberFormatException e) {
                throw ApiException.invalid(null, "malformed Content-Length header");
            }
            if (n > maxBody) throw tooLarge();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (InputStream in = ex.getRequestBody()) {
            byte[] buf = new byte[65536];
            for (int r; (r = in.read(buf)) > 0; ) {
                if (out.size() + r > maxBody) throw tooLarge();
                out.write(buf, 0, r);
            }
        }
        return body = out.toByteArray();
    }

    /** The body as an input stream counted against the limit (multipart uploads are parsed from it). */
    InputStream bodyStream() throws IOException {
        return new java.io.ByteArrayInputStream(body());
    }

    private ApiException tooLarge() {
        return new ApiException(413, null, "the request body is larger than the server's limit of " + maxBody + " bytes (--max-body)");
    }

    Fields json() throws IOException {
        return Fields.json(body());
    }

    /** The query parameters (decoded; the last of repeated names wins). */
    Map<String, String> query() {
        Map<String, String> q = new LinkedHashMap<>();
        String raw = ex.getRequestURI().getRawQuery();
        if (raw == null) return q;
        for (String part : raw.split("&")) {
            if (part.isEmpty()) continue;
            int eq = part.indexOf('=');
            String k = eq < 0 ? part : part.substring(0, eq), v = eq < 0 ? "" : part.substring(eq + 1);
            try {
                q.put(URLDecoder.decode(k, StandardCharsets.UTF_8), URLDecoder.decode(v, StandardCharsets.UTF_8));
            } catch (IllegalArgumentException e) {
                throw ApiException.invalid(k, "malformed query parameter");
            }
        }
        return q;
    }

    /** This server's address as the client reached it, for absolute URLs. */
    String baseUrl() {
        String host = header("Host");
        if (host == null || !host.matches("[A-Za-z0-9.\\-\\[\\]:]+")) {
            var a = ex.getLocalAddress();
            host = (a.getAddress() instanceof java.net.Inet6Address ? "[" + a.getAddress().getHostAddress() + "]" : a.getAddress().getHostAddress()) + ":" + a.getPort();
        }
        return "http://" + host;
    }

    void json(int status, Object value) throws IOException {
        send(status, "application/json", Json.write(value).getBytes(StandardCharsets.UTF_8));
    }

    void send(int status, String contentType, byte[] bytes) throws IOException {
        replied = true;
        ex.getResponseHeaders().set("Content-Type", contentType);
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        if (status == 204) {
            ex.sendResponseHeaders(204, -1);
        } else {
            ex.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
            if (bytes.length > 0) {
                try (OutputStream o = ex.getResponseBody()) {
                    o.write(bytes);
                }
            }
        }
        ex.close();
    }

    /** Starts a streamed reply (server-sent events); the caller writes and closes. */
    OutputStream stream(int status, String contentType) throws IOException {
        replied = true;
        ex.getResponseHeaders().set("Content-Type", contentType);
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        ex.getResponseHeaders().set("X-Accel-Buffering", "no");
        ex.sendResponseHeaders(status, 0);
        return ex.getResponseBody();
    }
}
