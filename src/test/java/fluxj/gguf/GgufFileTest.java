package fluxj.gguf;

import fluxj.io.TensorSpec;
import fluxj.tensor.DType;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The GGUF container: every value type, versions, alignment, shapes, and each validation with its message. */
class GgufFileTest {
    @TempDir
    Path dir;

    /** Fills every byte with its offset within the tensor (valid data for every type: f16 scales become finite). */
    static void pattern(TensorSpec s, MemorySegment out) {
        for (long i = 0; i < out.byteSize(); i++) out.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (i % 61));
    }

    static Map<String, GgufValue> allValueTypes() {
        Map<String, GgufValue> kv = new LinkedHashMap<>();
        kv.put("general.architecture", GgufValue.string("flux"));
        kv.put("t.u8", new GgufValue(GgufValue.Type.U8, null, 200L));
        kv.put("t.i8", new GgufValue(GgufValue.Type.I8, null, -100L));
        kv.put("t.u16", new GgufValue(GgufValue.Type.U16, null, 60000L));
        kv.put("t.i16", new GgufValue(GgufValue.Type.I16, null, -30000L));
        kv.put("t.u32", GgufValue.u32(4_000_000_000L));
        kv.put("t.i32", new GgufValue(GgufValue.Type.I32, null, -2_000_000_000L));
        kv.put("t.f32", new GgufValue(GgufValue.Type.F32, null, 1.5f));
        kv.put("t.bool", new GgufValue(GgufValue.Type.BOOL, null, true));
        kv.put("t.string", GgufValue.string("héllo"));
        kv.put("t.u64", new GgufValue(GgufValue.Type.U64, null, -1L));
        kv.put("t.i64", new GgufValue(GgufValue.Type.I64, null, Long.MIN_VALUE));
        kv.put("t.f64", new GgufValue(GgufValue.Type.F64, null, Math.PI));
        kv.put("t.strings", GgufValue.strings("a", "", "ccc"));
        kv.put("t.floats", new GgufValue(GgufValue.Type.ARRAY, GgufValue.Type.F32, new float[] {1f, -2f}));
        kv.put("t.i32s", new GgufValue(GgufValue.Type.ARRAY, GgufValue.Type.I32, new int[] {7, -7, 0}));
        kv.put("t.bytes", new GgufValue(GgufValue.Type.ARRAY, GgufValue.Type.U8, new byte[] {1, 2}));
        kv.put("t.empty", new GgufValue(GgufValue.Type.ARRAY, GgufValue.Type.U64, new long[0]));
        return kv;
    }

    static final List<TensorSpec> SPECS = List.of(
            new TensorSpec("a.weight", DType.Q8_0, new long[] {3, 64}),
            new TensorSpec("b.bias", DType.F32, new long[] {5}),
            new TensorSpec("c.weight", DType.Q4_K, new long[] {2, 256}),
            new TensorSpec("d.weight", DType.BF16, new long[] {2, 3, 4}));

    Path write(String name, Map<String, GgufValue> kv, List<TensorSpec> specs) throws IOException {
        Path p = dir.resolve(name);
        GgufWriter.write(p, kv, specs, (s, out) -> pattern(s, out));
        return p;
    }

    static ModelFormatException assertBad(Path p, String... fragments) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> GgufFile.open(p).close(), p.toString());
        assertTrue(e.getMessage().startsWith(p + ": "), "names the file: " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "'" + f + "' in: " + e.getMessage());
        return e;
    }

    @Test
    void roundTripsEveryValueTypeAndShape() throws IOException {
        Map<String, GgufValue> kv = allValueTypes();
        Path p = write("all.gguf", kv, SPECS);
        try (GgufFile g = GgufFile.open(p)) {
            assertEquals(3, g.version());
            assertEquals(kv.keySet(), g.metadata().keySet());
            for (var e : kv.entrySet()) {
                GgufValue got = g.metadata().get(e.getKey());
                assertEquals(e.getValue().type(), got.type(), e.getKey());
                assertEquals(e.getValue().elementType(), got.elementType(), e.getKey());
                assertEquals(e.getValue().toString(), got.toString(), e.getKey());
            }
            assertEquals(4_000_000_000L, g.metadata().get("t.u32").asLong());
            assertEquals(-30000L, g.metadata().get("t.i16").asLong());
            assertEquals("18446744073709551615", g.metadata().get("t.u64").toString());
            assertArrayEquals(new String[] {"a", "", "ccc"}, (String[]) g.metadata().get("t.strings").value());
            assertArrayEquals(new int[] {7, -7, 0}, (int[]) g.metadata().get("t.i32s").value());
            assertEquals(List.of("a.weight", "b.bias", "c.weight", "d.weight"), List.copyOf(g.tensors().keySet()));
            Tensor a = g.tensors().get("a.weight");
            assertArrayEquals(new long[] {3, 64}, a.shape(), "torch shape = ne reversed");
            assertEquals(DType.Q8_0, a.dtype());
            assertEquals(3 * 2 * 34, a.data().byteSize());
            assertEquals(8, g.ggmlType("a.weight"));
            assertArrayEquals(new long[] {2, 3, 4}, g.tensors().get("d.weight").shape());
            for (Tensor t : g.tensors().values()) {
                assertEquals(0, (t.data().address() - g.tensors().get("a.weight").data().address()) % 32, t.name() + " aligned");
            }
        }
    }

    @Test
    void versionTwoReadsTheSame() throws IOException {
        byte[] b = Files.readAllBytes(write("v3.gguf", allValueTypes(), SPECS));
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 2);
        Path p = dir.resolve("v2.gguf");
        Files.write(p, b);
        try (GgufFile g = GgufFile.open(p)) {
            assertEquals(2, g.version());
            assertEquals(4, g.tensors().size());
        }
    }

    @Test
    void versionsAndByteOrder() throws IOException {
        byte[] b = Files.readAllBytes(write("v.gguf", Map.of(), SPECS));
        for (int v : new int[] {0, 1, 4, 0x7fffffff}) {
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(4, v);
            Path p = dir.resolve("version" + v + ".gguf");
            Files.write(p, b);
            assertBad(p, "version " + v + " is not supported");
        }
        for (int v : new int[] {2, 3}) {
            ByteBuffer.wrap(b).order(ByteOrder.BIG_ENDIAN).putInt(4, v);
            Path p = dir.resolve("big" + v + ".gguf");
            Files.write(p, b);
            assertBad(p, "big-endian");
        }
        Path notGguf = dir.resolve("x.gguf");
        Files.write(notGguf, "GGML and more".getBytes(StandardCharsets.US_ASCII));
        assertBad(notGguf, "not a GGUF file");
        Files.write(notGguf, new byte[0]);
        assertBad(notGguf, "not a GGUF file");
    }

    @Test
    void alignmentIsHonouredAndChecked() throws IOException {
        Map<String, GgufValue> kv = new LinkedHashMap<>();
        kv.put("general.alignment", GgufValue.u32(256));
        try (GgufFile g = GgufFile.open(write("a256.gguf", kv, SPECS))) {
            assertEquals(256, g.alignment());
            long base = g.tensors().get("a.weight").data().address();
            assertEquals(256, g.tensors().get("b.bias").data().address() - base);
        }
        assertBad(new Raw(0, 1).str("general.alignment").u32(4).u32(48).file(dir.resolve("a48.gguf"), 0), "general.alignment", "48", "power of two");
        assertBad(new Raw(0, 1).str("general.alignment").u32(4).u32(0).file(dir.resolve("a0.gguf"), 0), "general.alignment", "power of two");
        assertBad(new Raw(0, 1).str("general.alignment").u32(10).u64(32).file(dir.resolve("a64.gguf"), 0), "general.alignment", "u32");
        kv.put("general.alignment", GgufValue.u32(48));
        assertThrows(IllegalArgumentException.class, () -> GgufWriter.header(kv, SPECS));
    }

    @Test
    void longTensorNamesAreValid() throws IOException {
        String name = "model.diffusion_model." + "x".repeat(180) + ".weight";
        try (GgufFile g = GgufFile.open(write("long.gguf", Map.of(), List.of(new TensorSpec(name, DType.F16, new long[] {2, 2}))))) {
            assertTrue(g.tensors().containsKey(name));
        }
    }

    /** A hand-built header: magic, version 3, counts, then whatever the test appends. */
    static final class Raw extends ByteArrayOutputStream {
        Raw(long nTensors, long nKv) {
            u32(GgufFile.MAGIC);
            u32(3);
            u64(nTensors);
            u64(nKv);
        }

        Raw u32(long v) { for (int i = 0; i < 4; i++) write((int) (v >>> 8 * i)); return this; }

        Raw u64(long v) { for (int i = 0; i < 8; i++) write((int) (v >>> 8 * i)); return this; }

        Raw str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            write(b, 0, b.length);
            return this;
        }

        /** A tensor info. */
        Raw tensor(String name, int type, long offset, long... ne) {
            str(name).u32(ne.length);
            for (long d : ne) u64(d);
            return u32(type).u64(offset);
        }

        /** Pads to 32 and appends n data bytes. */
        Path file(Path p, int dataBytes) throws IOException {
            while (size() % 32 != 0) write(0);
            write(new byte[dataBytes], 0, dataBytes);
            Files.write(p, toByteArray());
            return p;
        }
    }

    @Test
    void badKeyValuePairs() throws IOException {
        assertBad(new Raw(0, 1).str("").u32(4).u32(1).file(dir.resolve("empty-key.gguf"), 0), "empty key");
        assertBad(new Raw(0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(2).file(dir.resolve("dup-key.gguf"), 0), "duplicate key 'k'");
        assertBad(new Raw(0, 1).str("k").u32(13).u32(1).file(dir.resolve("type.gguf"), 0), "key 'k'", "unknown value type 13");
        assertBad(new Raw(0, 1).str("k").u32(9).u32(9).u64(1).file(dir.resolve("nested.gguf"), 0), "key 'k'", "arrays of arrays");
        assertBad(new Raw(0, 1).str("k").u32(9).u32(40).u64(1).file(dir.resolve("elem.gguf"), 0), "key 'k'", "unknown value type 40");
        assertBad(new Raw(0, 1).str("k").u32(9).u32(4).u64(1L << 62).file(dir.resolve("count.gguf"), 0), "key 'k'", "cannot fit");
        assertBad(new Raw(0, 1).str("k").u32(8).u64(1L << 62).file(dir.resolve("strlen.gguf"), 0), "key 'k'", "runs past the end");
        assertBad(new Raw(0, 1).u64(1L << 62).file(dir.resolve("keylen.gguf"), 64), "key of key-value pair 0", "runs past the end");
        assertBad(new Raw(0, 1L << 62).file(dir.resolve("nkv.gguf"), 0), "key-value count", "cannot fit");
        assertBad(new Raw(0, -1).file(dir.resolve("nkv-neg.gguf"), 0), "key-value count 18446744073709551615");
        assertBad(new Raw(1L << 62, 0).file(dir.resolve("nt.gguf"), 0), "tensor count", "cannot fit");
        Raw bad = new Raw(0, 1).str("k").u32(8);
        bad.u64(2);
        bad.write(0xff);
        bad.write(0xfe);
        try (GgufFile g = GgufFile.open(bad.file(dir.resolve("bad-utf8-value.gguf"), 0))) {
            assertEquals("\uFFFD\uFFFD", g.string("k"), "string values are decoded leniently");
        }
        Raw badKey = new Raw(0, 1).u64(1);
        badKey.write(0xff);
        assertBad(badKey.u32(4).u32(1).file(dir.resolve("bad-utf8-key.gguf"), 0), "not valid UTF-8");
    }

    @Test
    void badTensorInfos() throws IOException {
        assertBad(new Raw(1, 0).tensor("w", 0, 0, 1L << 40, 1L << 40).file(dir.resolve("wrap.gguf"), 0), "tensor 'w'", "overflows");
        assertBad(new Raw(1, 0).tensor("w", 0, 0, -5).file(dir.resolve("neg.gguf"), 0), "tensor 'w'", "negative");
        assertBad(new Raw(1, 0).tensor("w", 0, 0, 1, 1, 1, 1, 1).file(dir.resolve("dims.gguf"), 0), "tensor 'w'", "5 dimensions");
        assertBad(new Raw(1, 0).tensor("w", 0, 0).file(dir.resolve("dims0.gguf"), 0), "tensor 'w'", "0 dimensions");
        assertBad(new Raw(1, 0).tensor("w", 99, 0, 4).file(dir.resolve("type.gguf"), 0), "tensor 'w'", "unknown tensor type 99");
        assertBad(new Raw(1, 0).tensor("w", 16, 0, 256).file(dir.resolve("iq2.gguf"), 0), "tensor 'w'", "IQ2_XXS", "not supported");
        assertBad(new Raw(1, 0).tensor("w", 8, 0, 48, 2).file(dir.resolve("block.gguf"), 0), "tensor 'w'", "ne[0] = 48", "block size 32");
        assertBad(new Raw(2, 0).tensor("w", 0, 0, 4).tensor("w", 0, 32, 4).file(dir.resolve("dup.gguf"), 64), "duplicate tensor name 'w'");
        assertBad(new Raw(2, 0).tensor("a", 0, 0, 4).tensor("b", 0, 16, 4).file(dir.resolve("unaligned.gguf"), 64), "tensor 'b'", "data offset 16, expected 32");
        assertBad(new Raw(2, 0).tensor("a", 0, 32, 4).tensor("b", 0, 0, 4).file(dir.resolve("order.gguf"), 64), "tensor 'a'", "data offset 32, expected 0");
        assertBad(new Raw(1, 0).tensor("a", 0, 0, 1L << 62).file(dir.resolve("huge.gguf"), 0), "tensor 'a'", "overflows");
        assertBad(new Raw(1, 0).tensor("a", 0, 0, 16).file(dir.resolve("short.gguf"), 63), "truncated", "tensor 'a'");
        try (GgufFile g = GgufFile.open(new Raw(1, 0).tensor("a", 0, 0, 16).file(dir.resolve("exact.gguf"), 64))) {
            assertEquals(16, g.tensors().get("a").numel());
        }
    }
}
