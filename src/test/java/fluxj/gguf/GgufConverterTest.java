package fluxj.gguf;

import fluxj.io.SafeTensors;
import fluxj.tensor.DType;
import fluxj.tensor.Tensor;
import fluxj.testing.Cli;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** {@code fluxj convert} and the reference quantizers, byte for byte against the fixtures made by gguf-py. */
class GgufConverterTest {
    @TempDir
    Path dir;

    @Test
    void quantizersMatchGgmlsByteForByte() throws IOException {
        Path d = Fixtures.model("flux1-tiny-gguf");
        try (GgufFile g = GgufFile.open(d.resolve("gguf-block-types.gguf"));
             SafeTensors src = SafeTensors.open(d.resolve("gguf-block-types.expected.safetensors"));
             Arena arena = Arena.ofConfined()) {
            for (DType dt : List.of(DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.BF16, DType.F16, DType.F32)) {
                assertTrue(Quantizer.canQuantize(dt));
                float[] x = src.tensors().get("source." + dt).toFloats();
                Tensor want = g.tensors().get("blocks." + dt);
                MemorySegment out = arena.allocate(want.data().byteSize());
                Quantizer.quantize(dt, x, 0, x.length, out, 0);
                assertArrayEquals(want.data().toArray(ValueLayout.JAVA_BYTE), out.toArray(ValueLayout.JAVA_BYTE), dt.name());
            }
        }
    }

    @Test
    void convertingTheBf16FileGivesCity96sQ8_0FileExactly() throws IOException {
        Path d = Fixtures.model("flux1-tiny-gguf");
        Path q8 = dir.resolve("q8.gguf"), bf16 = dir.resolve("bf16.gguf");
        Cli.Run r = Cli.run("convert", d.resolve("flux1-g-schnell-BF16.gguf").toString(), q8.toString(), "--type", "q8_0");
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(Files.readAllBytes(d.resolve("flux1-g-schnell-Q8_0.gguf")), Files.readAllBytes(q8));
        r = Cli.run("convert", d.resolve("flux1-g-schnell-BF16.gguf").toString(), bf16.toString(), "--type", "BF16");
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(Files.readAllBytes(d.resolve("flux1-g-schnell-BF16.gguf")), Files.readAllBytes(bf16));
    }

    @Test
    void everyTypeFromSafetensorsKeepsCity96sRules() throws IOException {
        Path in = Fixtures.model("flux1-tiny-schnell-single/flux1-schnell.safetensors");
        for (DType type : GgufConverter.TYPES) {
            Path out = dir.resolve(type + ".gguf");
            Cli.Run r = Cli.run("convert", in.toString(), out.toString(), "--type", type.name().toLowerCase());
            assertEquals(0, r.code(), r.err());
            try (GgufFile g = GgufFile.open(out)) {
                assertEquals("flux", g.string("general.architecture"));
                assertEquals(GgufConverter.fileType(type), g.metadata().get("general.file_type").asLong());
                List<String> names = List.copyOf(g.tensors().keySet());
                assertEquals(names.stream().sorted().toList(), names, "sorted names");
                for (Tensor t : g.tensors().values()) {
                    boolean kept = List.of("img_in.", "txt_in.", "time_in.", "vector_in.", "guidance_in.", "final_layer.").stream().anyMatch(t.name()::startsWith);
                    DType want = t.rank() == 1 ? DType.F32 : kept && type.isBlock() ? DType.BF16 : type;
                    assertEquals(want, t.dtype(), type + " " + t.name());
                }
            }
        }
    }

    @Test
    void badRequestsLeaveNoOutput() throws IOException {
        Path d = Fixtures.model("flux1-tiny-gguf");
        Path out = dir.resolve("out.gguf");
        Files.writeString(out, "keep me");
        Cli.Run r = Cli.run("convert", d.resolve("flux1-g-schnell-BF16.gguf").toString(), out.toString(), "--type", "q8_0");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--overwrite"), r.err());
        assertEquals("keep me", Files.readString(out));
        r = Cli.run("convert", d.resolve("flux1-g-schnell-BF16.gguf").toString(), dir.resolve("x.gguf").toString(), "--type", "q3_k");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("q8_0"), r.err());
        r = Cli.run("convert", d.resolve("t5-v1_1-tiny-encoder-Q8_0.gguf").toString(), dir.resolve("t5.gguf").toString(), "--type", "q8_0");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("t5-v1_1-tiny-encoder-Q8_0.gguf") && r.err().contains("not a FLUX transformer"), r.err());
        assertFalse(Files.exists(dir.resolve("t5.gguf")));
        assertFalse(Files.exists(dir.resolve("t5.gguf.part")));
    }
}
