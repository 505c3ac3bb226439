package fluxj.io;

import fluxj.tensor.DType;
import fluxj.tensor.Tensor;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class SafeTensorsWriterTest {
    @TempDir
    Path dir;

    /** One tensor of every dtype (plus a scalar and an empty one), each byte set to a function of its position. */
    static List<TensorSpec> everyDtype() {
        List<TensorSpec> specs = new ArrayList<>();
        for (DType d : DType.values()) if (!d.isBlock()) specs.add(new TensorSpec("t." + d.name().toLowerCase(), d, new long[] {3, 5}));
        specs.add(new TensorSpec("scalar", DType.F32, new long[] {}));
        specs.add(new TensorSpec("empty", DType.BF16, new long[] {0, 7}));
        return specs;
    }

    static byte pattern(String name, long i) { return (byte) (name.hashCode() * 31 + i * 7); }

    static void fillPattern(TensorSpec s, MemorySegment out) {
        for (long i = 0; i < out.byteSize(); i++) out.set(ValueLayout.JAVA_BYTE, i, pattern(s.name(), i));
    }

    @Test
    void writesEveryDtypeInNameOrderWithPaddedHeader() throws IOException {
        Path f = dir.resolve("all.safetensors");
        List<TensorSpec> specs = everyDtype();
        SafeTensorsWriter.write(f, Map.of("format", "pt"), specs.reversed(), SafeTensorsWriterTest::fillPattern);

        byte[] bytes = Files.readAllBytes(f);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header length is a multiple of 8");
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{\"__metadata__\":{\"format\":\"pt\"},"), header);
        assertTrue(header.substring(header.strip().length()).chars().allMatch(c -> c == ' '), "padding is spaces");

        try (SafeTensors st = SafeTensors.open(f)) {
            assertEquals(Map.of("format", "pt"), st.metadata());
            List<String> names = new ArrayList<>(st.tensors().keySet());
            List<String> sorted = specs.stream().map(TensorSpec::name).sorted().toList();
            assertEquals(sorted.stream().filter(x -> !x.equals("empty")).toList(), names.stream().filter(x -> !x.equals("empty")).toList());
            for (TensorSpec s : specs) {
                Tensor t = st.tensors().get(s.name());
                assertEquals(s, TensorSpec.of(t));
                for (long i = 0; i < t.data().byteSize(); i++) assertEquals(pattern(s.name(), i), t.data().get(ValueLayout.JAVA_BYTE, i));
            }
        }
    }

    @Test
    void rewritingTheFixturesGivesIdenticalBytes() throws IOException {
        Path single = Fixtures.model("flux1-tiny-schnell-single");
        for (String name : List.of("flux1-schnell.safetensors", "flux1-schnell-fp8-e4m3fn.safetensors", "ae.safetensors",
                "clip_l.safetensors", "t5xxl_fp16.safetensors")) {
            Path copy = dir.resolve(name);
            try (SafeTensors st = SafeTensors.open(single.resolve(name))) {
                SafeTensorsWriter.write(copy, st.metadata(), st.tensors().values());
            }
            assertEquals(-1, Files.mismatch(single.resolve(name), copy), name + " rewritten byte for byte");
        }
    }

    @Test
    void rejectsDuplicateAndReservedNames() {
        TensorSpec a = new TensorSpec("a", DType.F32, new long[] {1});
        assertThrows(IllegalArgumentException.class, () -> SafeTensorsWriter.header(Map.of(), List.of(a, a)));
        assertThrows(IllegalArgumentException.class,
                () -> SafeTensorsWriter.header(Map.of(), List.of(new TensorSpec("__metadata__", DType.F32, new long[] {1}))));
    }

    @Test
    void aFailingFillerLeavesNoFile() {
        Path f = dir.resolve("partial.safetensors");
        assertThrows(IOException.class, () -> SafeTensorsWriter.write(f, Map.of(), everyDtype(), (s, out) -> {
            if (s.name().equals("t.f16")) throw new IOException("producer failed");
        }));
        assertFalse(Files.exists(f));
    }
}
