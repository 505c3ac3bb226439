package fluxj.server;

import java.util.Map;

/**
 * A request the server refuses: the HTTP status, the request field at fault (null when none) and a message a
 * client can act on. Each API renders it in its own error shape.
 */
final class ApiException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int status;
    private final String field;
    private final transient Map<String, String> headers;

    ApiException(int status, String field, String message, Map<String, String> headers) {
        super(message);
        this.status = status;
        this.field = field;
        this.headers = headers;
    }

    ApiException(int status, String field, String message) {
        this(status, field, message, Map.of());
    }

    /** 400 naming {@code field}. */
    static ApiException invalid(String field, String message) {
        return new ApiException(400, field, field == null ? message : "'" + field + "': " + message);
    }

    int status() { return status; }

    String field() { return field; }

    Map<String, String> headers() { return headers; }
}
