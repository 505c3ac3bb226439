package fluxj.io;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small strict JSON reader and writer (RFC 8259). Values are {@code Map<String,Object>} (insertion ordered),
 * {@code List<Object>}, {@code String}, {@code Long} or {@code Double}, {@code Boolean} and {@code null}.
 * Depth is limited so hostile input cannot overflow the stack.
 */
public final class Json {
    private static final int MAX_DEPTH = 512;
    private final String s;
    private int pos;

    private Json(String s) { this.s = s; }

    /** Thrown for malformed JSON; the message says where. */
    public static final class JsonException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        JsonException(String m) { super(m); }
    }

    public static Object parse(String text) {
        Json p = new Json(text);
        p.ws();
        Object v = p.value(0);
        p.ws();
        if (p.pos != text.length()) throw p.err("trailing characters");
        return v;
    }

    public static Object read(Path file) throws IOException {
        return parse(Files.readString(file, StandardCharsets.UTF_8));
    }

    @SuppressWarnings("unchecked")
    public static Map<String, Object> readObject(Path file) throws IOException {
        Object v = read(file);
        if (!(v instanceof Map)) throw new JsonException(file + ": expected a JSON object at the top level");
        return (Map<String, Object>) v;
    }

    private JsonException err(String m) { return new JsonException(m + " at offset " + pos); }

    private void ws() {
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') pos++; else break;
        }
    }

    private Object value(int depth) {
        if (depth > MAX_DEPTH) throw err("nesting too deep");
        if (pos >= s.length()) throw err("unexpected end of input");
        char c = s.charAt(pos);
        return switch (c) {
            case '{' -> object(depth);
            case '[' -> array(depth);
            case '"' -> string();
            case 't' -> literal("true", Boolean.TRUE);
            case 'f' -> literal("false", Boolean.FALSE);
            case 'n' -> literal("null", null);
            default -> {
                if (c == '-' || (c >= '0' && c <= '9')) yield number();
                throw err("unexpected character '" + c + "'");
            }
        };
    }

    private char hex4() {
        if (pos + 4 > s.length()) throw err("bad \\u escape");
        int v = 0;
        for (int i = 0; i < 4; i++) {
            int d = Character.digit(s.charAt(pos + i), 16);
            if (d < 0 || s.charAt(pos + i) > 'f') throw err("bad \\u escape");
            v = v * 16 + d;
        }
        pos += 4;
        return (char) v;
    }

    /** Rejects unpaired surrogates (from \\u escapes), which no UTF-8 text can hold, as the reference parser does. */
    private void requireWellFormed(String str) {
        for (int i = 0; i < str.length(); i++) {
            char c = str.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < str.length() && Character.isLowSurrogate(str.charAt(i + 1))) i++;
            else if (Character.isSurrogate(c)) throw err("unpaired surrogate \\u" + Integer.toHexString(c) + " in string");
        }
    }

    private Object literal(String word, Object v) {
        if (!s.startsWith(word, pos)) throw err("invalid literal");
        pos += word.length();
        return v;
    }

    private Map<String, Object> object(int depth) {
        Map<String, Object> m = new LinkedHashMap<>();
        pos++;
        ws();
        if (pos < s.length() && s.charAt(pos) == '}') { pos++; return m; }
        while (true) {
            ws();
            if (pos >= s.length() || s.charAt(pos) != '"') throw err("expected a string key");
            String k = string();
            ws();
            expect(':');
            ws();
            if (m.containsKey(k)) throw err("duplicate key \"" + k + "\"");
            m.put(k, value(depth + 1));
            ws();
            if (pos >= s.length()) throw err("unterminated object");
            char c = s.charAt(pos++);
            if (c == '}') return m;
            if (c != ',') throw err("expected ',' or '}'");
        }
    }

    private List<Object> array(int depth) {
        List<Object> l = new ArrayList<>();
        pos++;
        ws();
        if (pos < s.length() && s.charAt(pos) == ']') { pos++; return l; }
        while (true) {
            ws();
            l.add(value(depth + 1));
            ws();
            if (pos >= s.length()) throw err("unterminated array");
            char c = s.charAt(pos++);
            if (c == ']') return l;
            if (c != ',') throw err("expected ',' or ']'");
        }
    }

    private void expect(char c) {
        if (pos >= s.length() || s.charAt(pos) != c) throw err("expected '" + c + "'");
        pos++;
    }

    private String string() {
        pos++;
        StringBuilder b = null;
        int start = pos;
        while (true) {
            if (pos >= s.length()) throw err("unterminated string");
            char c = s.charAt(pos);
            if (c == '"') {
                String out = b == null ? s.substring(start, pos) : b.append(s, start, pos).toString();
                pos++;
                requireWellFormed(out);
                return out;
            }
            if (c < 0x20) throw err("control character in string");
            if (c == '\\') {
                if (b == null) b = new StringBuilder();
                b.append(s, start, pos);
                if (++pos >= s.length()) throw err("unterminated escape");
                char e = s.charAt(pos++);
                switch (e) {
                    case '"' -> b.append('"');
                    case '\\' -> b.append('\\');
                    case '/' -> b.append('/');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> b.append(hex4());
                    default -> throw err("bad escape '\\" + e + "'");
                }
                start = pos;
            } else {
                pos++;
            }
        }
    }

    /** RFC 8259 number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; integers that fit a long are Long. */
    private Object number() {
        int start = pos;
        if (peek() == '-') pos++;
        if (peek() == '0') pos++;
        else if (!digits()) throw err("bad number");
        boolean isInt = true;
        if (peek() == '.') {
            pos++;
            isInt = false;
            if (!digits()) throw err("bad number: no digits after '.'");
        }
        if (peek() == 'e' || peek() == 'E') {
            pos++;
            isInt = false;
            if (peek() == '+' || peek() == '-') pos++;
            if (!digits()) throw err("bad number: no digits in the exponent");
        }
        String t = s.substring(start, pos);
        if (isInt) {
            try {
                return Long.parseLong(t);
            } catch (NumberFormatException tooBig) {
                return Double.parseDouble(t);
            }
        }
        return Double.parseDouble(t);
    }

    private char peek() { return pos < s.length() ? s.charAt(pos) : '\0'; }

    private boolean digits() {
        int start = pos;
        while (pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') pos++;
        return pos > start;
    }

    /** Serialises maps, lists, strings, numbers, booleans and null. */
    public static String write(Object v) {
        StringBuilder b = new StringBuilder();
        write(b, v);
        return b.toString();
    }

    private static void write(StringBuilder b, Object v) {
        switch (v) {
            case null -> b.append("null");
            case String str -> quote(b, str);
            case Map<?, ?> m -> {
                b.append('{');
                boolean first = true;
                for (var e : m.entrySet()) {
                    if (!first) b.append(',');
                    first = false;
                    quote(b, String.valueOf(e.getKey()));
                    b.append(':');
                    write(b, e.getValue());
                }
                b.append('}');
            }
            case Iterable<?> l -> {
                b.append('[');
                boolean first = true;
                for (Object o : l) {
                    if (!first) b.append(',');
                    first = false;
                    write(b, o);
                }
                b.append(']');
            }
            case int[] a -> { b.append('['); for (int i = 0; i < a.length; i++) b.append(i == 0 ? "" : ",").append(a[i]); b.append(']'); }
            case long[] a -> { b.append('['); for (int i = 0; i < a.length; i++) b.append(i == 0 ? "" : ",").append(a[i]); b.append(']'); }
            case Double d when d.isNaN() || d.isInfinite() -> b.append("null");
            case Float f when f.isNaN() || f.isInfinite() -> b.append("null");
            default -> b.append(v);
        }
    }

    private static void quote(StringBuilder b, String str) {
        b.append('"');
        for (int i = 0; i < str.length(); i++) {
            char c = str.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c)); else b.append(c);
                }
            }
        }
        b.append('"');
    }
}
