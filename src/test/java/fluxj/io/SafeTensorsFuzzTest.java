package fluxj.io;

import fluxj.tensor.DType;
import fluxj.tensor.ModelFormatException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Damaged and hostile safetensors files: every one must end in a ModelFormatException naming the file (and the
 * tensor when one is at fault), quickly and without exhausting memory.
 */
@Timeout(60)
class SafeTensorsFuzzTest {
    @TempDir
    Path dir;
    byte[] valid;
    int headerEnd;

    @BeforeEach
    void writeValidFile() throws IOException {
        Path f = dir.resolve("valid.safetensors");
        List<TensorSpec> specs = List.of(
                new TensorSpec("blocks.0.weight", DType.BF16, new long[] {4, 6}),
                new TensorSpec("blocks.0.bias", DType.F32, new long[] {4}),
                new TensorSpec("fp8.weight", DType.F8_E4M3, new long[] {3, 3}),
                new TensorSpec("ids", DType.I64, new long[] {1, 5}),
                new TensorSpec("scalar", DType.F16, new long[] {}));
        SafeTensorsWriter.write(f, Map.of("format", "pt"), specs, SafeTensorsWriterTest::fillPattern);
        valid = Files.readAllBytes(f);
        headerEnd = 8 + (int) ByteBuffer.wrap(valid, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    Path file(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    /** A file with the given header text (unpadded) followed by {@code dataBytes} bytes. */
    Path raw(String name, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return file(name, ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).put(h).array());
    }

    static ModelFormatException assertBad(Path p, String... fragments) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafeTensors.open(p).close(), p.toString());
        assertTrue(e.getMessage().startsWith(p.toString() + ": "), "names the file: " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "'" + f + "' in: " + e.getMessage());
        return e;
    }

    @Test
    void validFileOpens() throws IOException {
        try (SafeTensors st = SafeTensors.open(file("ok.safetensors", valid))) {
            assertEquals(5, st.tensors().size());
        }
    }

    @Test
    void everyTruncationIsRejected() throws IOException {
        Path p = dir.resolve("cut.safetensors");
        for (int len = 0; len < valid.length; len++) {
            Files.write(p, Arrays.copyOf(valid, len));
            if (len < 8) assertBad(p, "shorter than the 8-byte header length");
            else if (len < headerEnd) assertBad(p, "runs past the end of the file");
            else assertBad(p, "truncated");
        }
    }

    @Test
    void flippedHeaderBytesOpenCleanlyOrFailCleanly() throws IOException {
        Path p = dir.resolve("flipped.safetensors");
        int rejected = 0, trials = 0;
        for (int i = 0; i < headerEnd; i++) {
            for (int mask : new int[] {0x01, 0x20, 0x80}) {
                byte[] b = valid.clone();
                b[i] ^= (byte) mask;
                Files.write(p, b);
                trials++;
                try (SafeTensors st = SafeTensors.open(p)) {
                    // A flip inside a name or the metadata can leave a valid file; it must then be consistent.
                    assertEquals(valid.length, st.fileSize());
                    st.tensors().values().forEach(t -> assertEquals(TensorSpec.of(t).byteSize(), t.data().byteSize()));
                } catch (ModelFormatException e) {
                    assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
                    rejected++;
                }
            }
        }
        assertTrue(rejected > trials / 2, rejected + " of " + trials + " flips rejected");
    }

    @Test
    void randomGarbageAfterTheLengthIsRejected() throws IOException {
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 200; i++) {
            byte[] b = new byte[8 + r.nextInt(300)];
            for (int j = 8; j < b.length; j++) b[j] = (byte) r.nextInt(256);
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, r.nextInt(b.length - 7));
            assertBad(file("garbage.safetensors", b));
        }
    }

    @Test
    void hugeHeaderLengthsAreRejectedWithoutAllocating() throws IOException {
        for (long n : new long[] {1L << 60, -1L, Long.MIN_VALUE, SafeTensors.MAX_HEADER + 1}) {
            byte[] b = valid.clone();
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, n);
            assertBad(file("huge.safetensors", b), "exceeds the safetensors limit");
        }
        byte[] b = valid.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, SafeTensors.MAX_HEADER);
        assertBad(file("long.safetensors", b), "runs past the end of the file");
    }

    @Test
    void badUtf8AndNonJsonHeaders() throws IOException {
        byte[] h = "{\"a\u00ff\":{}}".getBytes(StandardCharsets.ISO_8859_1);
        assertBad(file("utf8.safetensors", ByteBuffer.allocate(8 + h.length).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).put(h).array()), "UTF-8");
        assertBad(raw("nonjson.safetensors", "{not json}", 0), "not valid JSON");
        assertBad(raw("array.safetensors", "[1,2]", 0), "does not start with '{'");
        assertBad(raw("empty.safetensors", "", 0), "does not start with '{'");
        assertBad(raw("lead.safetensors", " {}", 0), "does not start with '{'");
        assertBad(raw("trail.safetensors", "{}x", 0), "not valid JSON");
        assertBad(raw("nul.safetensors", "{}\0\0\0\0\0\0", 0), "not valid JSON");
        assertBad(raw("deep.safetensors", "{\"a\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}", 0), "not valid JSON");
        assertBad(raw("dup.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "duplicate key");
        assertBad(raw("surrogate.safetensors", "{\"\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "surrogate");
    }

    static String entry(String name, String dtype, String shape, String offsets) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
    }

    @Test
    void liesAboutTensors() throws IOException {
        assertBad(raw("dtype.safetensors", "{" + entry("w", "F128", "[1]", "[0,16]") + "}", 16), "'w'", "unknown dtype 'F128'");
        assertBad(raw("negative.safetensors", "{" + entry("w", "F32", "[-1,4]", "[0,16]") + "}", 16), "'w'", "non-negative integers");
        assertBad(raw("real.safetensors", "{" + entry("w", "F32", "[2.0]", "[0,8]") + "}", 8), "'w'", "non-negative integers");
        assertBad(raw("overflow.safetensors", "{" + entry("w", "F32", "[4294967296,4294967296]", "[0,16]") + "}", 16), "'w'", "overflows");
        assertBad(raw("bytes.safetensors", "{" + entry("w", "F64", "[1152921504606846976]", "[0,8]") + "}", 8), "'w'", "overflows");
        assertBad(raw("bigdim.safetensors", "{" + entry("w", "F32", "[99999999999999999999]", "[0,8]") + "}", 8), "'w'", "non-negative integers");
        assertBad(raw("span.safetensors", "{" + entry("w", "BF16", "[3,4]", "[0,16]") + "}", 16), "'w'", "span 16 bytes", "needs 24");
        assertBad(raw("noshape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "'w'", "missing shape");
        assertBad(raw("nodtype.safetensors", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "'w'", "missing dtype");
        assertBad(raw("notobj.safetensors", "{\"w\":[1,2]}", 0), "'w'", "not an object");
        assertBad(raw("meta.safetensors", "{\"__metadata__\":{\"n\":1}}", 0), "__metadata__");
        assertBad(raw("meta2.safetensors", "{\"__metadata__\":[]}", 0), "__metadata__");
    }

    @Test
    void liesAboutOffsets() throws IOException {
        String a = entry("a", "F32", "[2]", "[0,8]");
        assertBad(raw("backwards.safetensors", "{" + entry("a", "F32", "[0]", "[8,0]") + "}", 8), "'a'", "data_offsets");
        assertBad(raw("three.safetensors", "{" + entry("a", "F32", "[2]", "[0,8,8]") + "}", 8), "'a'", "data_offsets");
        assertBad(raw("realoff.safetensors", "{" + entry("a", "F32", "[2]", "[0,8.0]") + "}", 8), "'a'", "data_offsets");
        assertBad(raw("negoff.safetensors", "{" + entry("a", "F32", "[2]", "[-8,0]") + "}", 8), "'a'", "data_offsets");
        assertBad(raw("gap.safetensors", "{" + a + "," + entry("b", "F32", "[2]", "[12,20]") + "}", 20), "'b'", "without gaps or overlaps");
        assertBad(raw("overlap.safetensors", "{" + a + "," + entry("b", "F32", "[2]", "[4,12]") + "}", 12), "'b'", "without gaps or overlaps");
        assertBad(raw("same.safetensors", "{" + a + "," + entry("b", "F32", "[2]", "[0,8]") + "}", 8), "without gaps or overlaps");
        assertBad(raw("notzero.safetensors", "{" + entry("a", "F32", "[2]", "[4,12]") + "}", 12), "'a'", "without gaps or overlaps");
        assertBad(raw("pastend.safetensors", "{" + a + "," + entry("b", "F32", "[2]", "[8,16]") + "}", 12), "truncated");
        assertBad(raw("farpast.safetensors", "{" + entry("a", "U8", "[1000000000000]", "[0,1000000000000]") + "}", 8), "truncated");
        assertBad(raw("trailing.safetensors", "{" + a + "}", 9), "trailing bytes");
    }

    @Test
    void unsortedButContiguousOffsetsAreValid() throws IOException {
        Path p = raw("unsorted.safetensors", "{" + entry("a", "U8", "[3]", "[5,8]") + "," + entry("b", "U8", "[5]", "[0,5]")
                + "," + entry("c", "U8", "[0]", "[5,5]") + "}", 8);
        try (SafeTensors st = SafeTensors.open(p)) {
            assertEquals(3, st.tensors().get("a").data().byteSize());
            assertEquals(List.of("b", "c", "a"), List.copyOf(st.tensors().keySet()));
        }
    }
}
