package fluxj.io;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class JsonTest {
    @Test
    void parsesEveryValueKind() {
        Object v = Json.parse(" {\"s\":\"a\\\"b\\\\c\\/\\n\\t\\u00e9\\ud83d\\ude00\",\"i\":-42,\"z\":0,\"nz\":-0,\"r\":1.5e3,\"e\":2E-2,"
                + "\"t\":true,\"f\":false,\"n\":null,\"l\":[1,[2,{}],[]],\"o\":{\"k\":{}}} ");
        Map<?, ?> m = assertInstanceOf(Map.class, v);
        assertEquals("a\"b\\c/\n\té😀", m.get("s"));
        assertEquals(-42L, m.get("i"));
        assertEquals(0L, m.get("z"));
        assertEquals(0L, m.get("nz"));
        assertEquals(1500.0, m.get("r"));
        assertEquals(0.02, m.get("e"));
        assertEquals(Boolean.TRUE, m.get("t"));
        assertEquals(Boolean.FALSE, m.get("f"));
        assertTrue(m.containsKey("n") && m.get("n") == null);
        assertEquals(List.of(1L, List.of(2L, Map.of()), List.of()), m.get("l"));
        assertEquals(List.of("s", "i", "z", "nz", "r", "e", "t", "f", "n", "l", "o"), List.copyOf(m.keySet()), "insertion order kept");
    }

    @Test
    void integersBeyondLongBecomeDoubles() {
        assertEquals(Long.MAX_VALUE, Json.parse("9223372036854775807"));
        assertEquals(Long.MIN_VALUE, Json.parse("-9223372036854775808"));
        assertInstanceOf(Double.class, Json.parse("9223372036854775808"));
    }

    @Test
    void rejectsMalformedInput() {
        for (String bad : List.of("", " ", "{", "}", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{'a':1}", "[1 2]",
                "01", "-", "-01", "1.", ".5", "1e", "1e+", "+1", "0x10", "1.2.3", "NaN", "Infinity", "-Infinity", "tru", "nul",
                "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u+123\"", "\"\\u12g4\"", "\"tab\there\"", "\"\\ud800\"", "\"\\udc00x\"",
                "{\"a\":1,\"a\":2}", "[1]x", "{}{}", "\u00a0{}", "[" .repeat(600) + "]".repeat(600))) {
            assertThrows(Json.JsonException.class, () -> Json.parse(bad), () -> "should reject: " + bad);
        }
    }

    @Test
    void errorsSayWhere() {
        Json.JsonException e = assertThrows(Json.JsonException.class, () -> Json.parse("{\"a\":[1,2,}"));
        assertTrue(e.getMessage().contains("offset 10"), e.getMessage());
    }

    @Test
    void writesWhatItReads() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("text", "q\"uo\\te\n\u0001é😀");
        m.put("ints", new long[] {0, -1, Long.MAX_VALUE});
        m.put("list", Arrays.asList(1L, 2.5, null, true, "x"));
        m.put("nested", Map.of("k", List.of()));
        String s = Json.write(m);
        assertEquals(m.get("text"), ((Map<?, ?>) Json.parse(s)).get("text"));
        assertEquals("{\"text\":\"q\\\"uo\\\\te\\n\\u0001é😀\",\"ints\":[0,-1,9223372036854775807],\"list\":[1,2.5,null,true,\"x\"],"
                + "\"nested\":{\"k\":[]}}", s);
        assertEquals("null", Json.write(Double.NaN), "non-finite numbers have no JSON form");
    }
}
