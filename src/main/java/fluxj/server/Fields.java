package fluxj.server;

import fluxj.io.Json;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The fields of a request body (a JSON object, or the text fields of a multipart form, whose values are strings),
 * read with their type and bounds checked: a wrong one is a 400 naming the field.
 */
final class Fields {
    private final Map<String, Object> map;

    Fields(Map<String, Object> map) {
        this.map = map;
    }

    @SuppressWarnings("unchecked")
    static Fields json(byte[] body) {
        if (body.length == 0) throw ApiException.invalid(null, "the request body is empty; a JSON object was expected");
        Object v;
        try {
            v = Json.parse(new String(body, StandardCharsets.UTF_8));
        } catch (Json.JsonException e) {
            throw ApiException.invalid(null, "malformed JSON: " + e.getMessage());
        }
        if (!(v instanceof Map)) throw ApiException.invalid(null, "the request body must be a JSON object");
        return new Fields((Map<String, Object>) v);
    }

    static Fields of(Map<String, String> strings) {
        return new Fields(new LinkedHashMap<>(strings));
    }

    boolean has(String k) {
        return map.get(k) != null;
    }

    Map<String, Object> raw() {
        return map;
    }

    String string(String k, String def) {
        Object v = map.get(k);
        if (v == null) return def;
        if (v instanceof String s) return s;
        throw ApiException.invalid(k, "must be a string");
    }

    String requiredString(String k) {
        String s = string(k, null);
        if (s == null) throw ApiException.invalid(k, "is required");
        return s;
    }

    /** An integer in [min, max], or null when absent. Form fields give strings: those are parsed. */
    Long integer(String k, long min, long max) {
        Object v = map.get(k);
        if (v == null) return null;
        long n;
        switch (v) {
            case Long l -> n = l;
            case Double d when d == Math.rint(d) && Math.abs(d) < 1e18 -> n = d.longValue();
            case String s -> {
                try {
                    n = Long.parseLong(s.strip());
                } catch (NumberFormatException e) {
                    throw ApiException.invalid(k, "must be an integer, got '" + s + "'");
                }
            }
            default -> throw ApiException.invalid(k, "must be an integer, got " + Json.write(v));
        }
        if (n < min || n > max) throw ApiException.invalid(k, "must be between " + min + " and " + max + ", got " + n);
        return n;
    }

    /** A finite number in [min, max], or null when absent. */
    Double number(String k, double min, double max) {
        Object v = map.get(k);
        if (v == null) return null;
        double d;
        switch (v) {
            case Number num -> d = num.doubleValue();
            case String s -> {
                try {
                    d = Double.parseDouble(s.strip());
                } catch (NumberFormatException e) {
                    throw ApiException.invalid(k, "must be a number, got '" + s + "'");
                }
            }
            default -> throw ApiException.invalid(k, "must be a number, got " + Json.write(v));
        }
        if (!(d >= min && d <= max)) throw ApiException.invalid(k, "must be a number between " + num(min) + " and " + num(max) + ", got " + d);
        return d;
    }

    Boolean bool(String k) {
        Object v = map.get(k);
        return switch (v) {
            case null -> null;
            case Boolean b -> b;
            case String s when s.equalsIgnoreCase("true") || s.equalsIgnoreCase("false") -> Boolean.parseBoolean(s);
            default -> throw ApiException.invalid(k, "must be true or false");
        };
    }

    @SuppressWarnings("unchecked")
    Fields object(String k) {
        Object v = map.get(k);
        if (v == null) return new Fields(Map.of());
        if (v instanceof Map) return new Fields((Map<String, Object>) v);
        throw ApiException.invalid(k, "must be a JSON object");
    }

    List<?> list(String k) {
        Object v = map.get(k);
        if (v == null) return null;
        if (v instanceof List<?> l) return l;
        throw ApiException.invalid(k, "must be a list");
    }

    private static String num(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }
}
