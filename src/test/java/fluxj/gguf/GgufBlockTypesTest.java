package fluxj.gguf;

import fluxj.io.SafeTensors;
import fluxj.tensor.DType;
import fluxj.tensor.Tensor;
import fluxj.tensor.Widen;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every block type of gguf-block-types.gguf decodes to exactly the float32 values of its .expected file. */
class GgufBlockTypesTest {
    static final Set<String> TYPES = Set.of("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K",
            "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS");

    @Test
    void everyTypeDecodesBitExactly() throws IOException {
        var dir = Fixtures.model("flux1-tiny-gguf");
        try (GgufFile g = GgufFile.open(dir.resolve("gguf-block-types.gguf"));
             SafeTensors expected = SafeTensors.open(dir.resolve("gguf-block-types.expected.safetensors"))) {
            Set<String> seen = new TreeSet<>();
            for (Tensor t : g.tensors().values()) {
                String type = t.name().substring("blocks.".length());
                seen.add(type);
                assertEquals(type, t.dtype().name(), t.name());
                float[] want = expected.tensors().get("decoded." + type).toFloats();
                // three routes: whole rows, a span starting and ending inside blocks, single elements
                float[] rows = new float[(int) t.numel()];
                Widen.rows(t, 0, t.rows(), rows);
                float[] span = new float[want.length - 40];
                Widen.span(t, 17, span.length, span, 0);
                for (int i = 0; i < want.length; i++) {
                    assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(rows[i]), type + " element " + i);
                    if (i >= 17 && i - 17 < span.length) assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(span[i - 17]), type + " span " + i);
                }
                Tensor middle = t.sliceRows(1, 3);
                float[] sliced = new float[2 * t.cols()];
                Widen.rows(middle, 0, 2, sliced);
                for (int i = 0; i < sliced.length; i++) assertEquals(Float.floatToRawIntBits(want[t.cols() + i]), Float.floatToRawIntBits(sliced[i]), type + " slice " + i);
                for (int i = 0; i < want.length; i += 97) assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(t.get(i)), type + " get " + i);
            }
            assertEquals(TYPES, seen);
        }
    }

    @Test
    void blockSizesAreGgmls() {
        Map<DType, int[]> sizes = Map.ofEntries(Map.entry(DType.Q8_0, new int[] {32, 34}), Map.entry(DType.Q4_0, new int[] {32, 18}),
                Map.entry(DType.Q4_1, new int[] {32, 20}), Map.entry(DType.Q5_0, new int[] {32, 22}), Map.entry(DType.Q5_1, new int[] {32, 24}),
                Map.entry(DType.Q2_K, new int[] {256, 84}), Map.entry(DType.Q3_K, new int[] {256, 110}), Map.entry(DType.Q4_K, new int[] {256, 144}),
                Map.entry(DType.Q5_K, new int[] {256, 176}), Map.entry(DType.Q6_K, new int[] {256, 210}), Map.entry(DType.IQ4_NL, new int[] {32, 18}),
                Map.entry(DType.IQ4_XS, new int[] {256, 136}));
        sizes.forEach((dt, s) -> {
            assertEquals(s[0], dt.blockValues(), dt.name());
            assertEquals(s[1], dt.blockBytes(), dt.name());
            assertTrue(dt.isBlock() && dt.isFloat());
            assertEquals(dt, GgufTypes.dtype(GgufTypes.id(dt)));
        });
    }
}
