package fluxj.gguf;

import fluxj.io.Checkpoint;
import fluxj.io.ModelKind;
import fluxj.tensor.DType;
import fluxj.tensor.Tensor;
import fluxj.testing.Cli;
import fluxj.text.T5Encoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.*;

/** {@code fluxj dev make-random} writing GGUF: city96-layout transformers and llama.cpp T5 encoders in every type. */
class RandomGgufTest {
    @TempDir
    Path dir;

    static void assertFinite(Tensor t) {
        float[] v = t.toFloats();
        for (float x : v) assertTrue(Float.isFinite(x), t.name());
    }

    @Test
    void transformersInEveryTypeOpenAsFlux() throws IOException {
        for (DType dt : List.of(DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.Q2_K, DType.Q3_K, DType.Q4_K, DType.Q5_K,
                DType.Q6_K, DType.IQ4_NL, DType.IQ4_XS, DType.BF16)) {
            Path out = dir.resolve(dt + ".gguf");
            Cli.Run r = Cli.run("dev", "make-random", "--kind", "flux", "--hidden", "256", "--double", "1", "--single", "1", "--context", "256",
                    "--vec", "256", "--dtype", dt.name().toLowerCase(Locale.ROOT), "--out", out.toString());
            assertEquals(0, r.code(), r.err());
            try (Checkpoint ck = Checkpoint.open(out)) {
                assertInstanceOf(ModelKind.Flux.class, ModelKind.of(ck), dt.name());
                assertEquals(dt, ck.get("double_blocks.0.img_attn.qkv.weight").dtype());
                assertEquals(DType.F32, ck.get("double_blocks.0.img_attn.qkv.bias").dtype());
                assertEquals(dt.isBlock() ? DType.BF16 : dt, ck.get("img_in.weight").dtype());
                assertFinite(ck.get("single_blocks.0.linear2.weight"));
                assertEquals("flux", ck.metadata().get("general.architecture"));
            }
        }
    }

    @Test
    void t5EncodersUseLlamaCppNames() throws IOException {
        Path out = dir.resolve("t5.gguf");
        Cli.Run r = Cli.run("dev", "make-random", "--kind", "t5xxl", "--hidden", "64", "--layers", "2", "--heads", "2", "--ff", "128",
                "--vocab", "1000", "--dtype", "q8_0", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals("t5encoder", g.string("general.architecture"));
            assertEquals(DType.Q8_0, g.tensors().get("enc.blk.1.ffn_gate.weight").dtype());
            assertEquals(DType.F16, g.tensors().get("enc.blk.0.attn_rel_b.weight").dtype());
            assertEquals(DType.F32, g.tensors().get("enc.output_norm.weight").dtype());
            assertEquals(DType.Q8_0, g.tensors().get("token_embd.weight").dtype());
        }
        try (Checkpoint ck = Checkpoint.open(out)) {
            T5Encoder t5 = T5Encoder.load(ck, null);
            for (float x : t5.encode(new int[] {5, 17, 1, 0})) assertTrue(Float.isFinite(x));
        }
    }

    @Test
    void ggufOptionsAreChecked() {
        Cli.Run r = Cli.run("dev", "make-random", "--kind", "vae", "--dtype", "q8_0", "--out", dir.resolve("v.gguf").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("flux and t5xxl"), r.err());
        r = Cli.run("dev", "make-random", "--kind", "flux", "--dtype", "q4_k", "--out", dir.resolve("f.safetensors").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains(".gguf"), r.err());
        assertFalse(Files.exists(dir.resolve("f.safetensors")));
    }

    @Test
    void llamaT5NamesRoundTrip() {
        for (String hf : List.of("shared.weight", "encoder.final_layer_norm.weight", "encoder.block.7.layer.0.SelfAttention.relative_attention_bias.weight",
                "encoder.block.7.layer.1.DenseReluDense.wo.weight", "encoder.block.0.layer.0.layer_norm.weight", "encoder.block.3.layer.0.SelfAttention.k.weight")) {
            assertEquals(hf, GgufNames.t5Name(GgufNames.llamaT5Name(hf)), hf);
        }
        assertEquals("enc.blk.7.ffn_down.weight", GgufNames.llamaT5Name("encoder.block.7.layer.1.DenseReluDense.wo.weight"));
    }
}
