package fluxj.gguf;

import fluxj.io.Checkpoint;
import fluxj.io.TensorSpec;
import fluxj.tensor.DType;
import fluxj.tensor.Tensor;
import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import fluxj.text.T5Encoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The GGUF layouts as models: llama.cpp's T5 encoder names, stable-diffusion.cpp's transformer files. */
public class GgufModelsTest {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    /** As T5EncoderTest: two f32 evaluations of the same (decoded) weights differ by up to ~1.3e-5 here. */
    @Test
    void llamaCppT5EncoderMatchesTheReferenceEmbeddings() throws IOException {
        try (Checkpoint ck = Checkpoint.open(Fixtures.model("flux1-tiny-gguf/t5-v1_1-tiny-encoder-Q8_0.gguf"))) {
            assertTrue(ck.has("encoder.block.1.layer.1.DenseReluDense.wi_0.weight"), ck.names().toString());
            assertEquals(DType.Q8_0, ck.get("shared.weight").dtype());
            T5Encoder t5 = T5Encoder.load(ck, null);
            Path c = Fixtures.caseDir("pg02_schnell_gguf_q8_0_t5_q8_0");
            float[] got = t5.encode(Npy.read(c.resolve("t5_ids.npy")).ints());
            double diff = Npy.maxAbsDiff(got, Npy.read(c.resolve("t5_emb.npy")).floats());
            assertTrue(diff <= 3e-5, "max |diff| " + diff);
        }
    }

    @Test
    void t5NamesMapAsComfyUiGgufDoes() {
        assertEquals("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", GgufNames.t5Name("enc.blk.0.attn_rel_b.weight"));
        assertEquals("encoder.block.11.layer.1.DenseReluDense.wi_1.weight", GgufNames.t5Name("enc.blk.11.ffn_up.weight"));
        assertEquals("encoder.block.3.layer.0.SelfAttention.o.weight", GgufNames.t5Name("enc.blk.3.attn_o.weight"));
        assertEquals("encoder.block.3.layer.1.layer_norm.weight", GgufNames.t5Name("enc.blk.3.ffn_norm.weight"));
        assertEquals("encoder.final_layer_norm.weight", GgufNames.t5Name("enc.output_norm.weight"));
        assertEquals("shared.weight", GgufNames.t5Name("token_embd.weight"));
    }

    /**
     * Rewrites a city96 file as {@code sd -M convert} writes it: no key-value pairs, names prefixed
     * {@code model.diffusion_model.}, 1-D tensors in BF16 (the fixture's F32 vectors are BF16 values widened, so
     * this loses nothing).
     */
    public static Path sdCpp(Path city96, Path out) throws IOException {
        try (GgufFile g = GgufFile.open(city96)) {
            List<TensorSpec> specs = new ArrayList<>();
            Map<String, Tensor> byName = new LinkedHashMap<>();
            for (Tensor t : g.tensors().values()) {
                DType dt = t.rank() == 1 ? DType.BF16 : t.dtype();
                String name = "model.diffusion_model." + t.name();
                specs.add(new TensorSpec(name, dt, t.shape()));
                byName.put(name, t);
            }
            GgufWriter.write(out, Map.of(), specs, (s, seg) -> {
                Tensor t = byName.get(s.name());
                if (s.dtype() == t.dtype()) {
                    MemorySegment.copy(t.data(), 0, seg, 0, seg.byteSize());
                    return;
                }
                for (int i = 0; i < t.numel(); i++) {
                    float v = t.get(i);
                    assertEquals(v, DType.bf16ToFloat(DType.floatToBf16(v)), t.name() + " is a widened BF16 vector");
                    seg.set(I16, 2L * i, DType.floatToBf16(v));
                }
            });
        }
        return out;
    }
}
