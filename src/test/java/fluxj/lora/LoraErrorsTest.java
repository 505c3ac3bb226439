package fluxj.lora;

import fluxj.flux.FluxTransformer;
import fluxj.io.Checkpoint;
import fluxj.tensor.ModelFormatException;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every LoRA error of README-quant.md: one message naming the file and the first offending key. */
class LoraErrorsTest {
    static final int H = 128;
    static Checkpoint ck;
    static LoraSet.Model model;

    @TempDir
    Path dir;

    @BeforeAll
    static void load() throws IOException {
        ck = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell.safetensors"));
        FluxTransformer t = FluxTransformer.load(ck, null);
        model = new LoraSet.Model(t.linears(), t.vectors(), LoraSet.clipLayers(1, 64, 256));
    }

    @AfterAll
    static void close() { ck.close(); }

    private String fails(TestLora l, String key) throws IOException {
        Path f = l.write(dir.resolve("bad.safetensors"));
        var e = assertThrows(ModelFormatException.class, () -> LoraSet.open(List.of(new LoraRef(f, 1)), model, w -> {}));
        assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
        assertTrue(e.getMessage().contains("'" + key + "'"), e.getMessage());
        return e.getMessage();
    }

    private static TestLora kohya(int upRows, int upRank, int downRank, int cols) {
        TestLora l = new TestLora(1);
        l.matrix("lora_unet_img_in.lora_up.weight", upRows, upRank);
        l.matrix("lora_unet_img_in.lora_down.weight", downRank, cols);
        return l;
    }

    @Test
    void ranksThatDisagree() throws IOException {
        String m = fails(kohya(H, 4, 3, 64), "lora_unet_img_in.lora_up.weight");
        assertTrue(m.contains("rank 4") && m.contains("rank 3"), m);
    }

    @Test
    void deltasThatDoNotFitTheirTarget() throws IOException {
        assertTrue(fails(kohya(H + 1, 2, 2, 64), "lora_unet_img_in.lora_up.weight").contains("129 rows"));
        assertTrue(fails(kohya(H, 2, 2, 65), "lora_unet_img_in.lora_down.weight").contains("65 columns"));
        TestLora slice = new TestLora(2);
        slice.matrix("transformer.transformer_blocks.0.attn.to_k.lora_A.weight", 2, H);
        slice.matrix("transformer.transformer_blocks.0.attn.to_k.lora_B.weight", 3 * H, 2);
        assertTrue(fails(slice, "transformer.transformer_blocks.0.attn.to_k.lora_B.weight").contains("rows [128, 256)"));
        TestLora bias = new TestLora(3);
        bias.matrix("diffusion_model.img_in.diff_b", 7, 1);
        bias.put("diffusion_model.img_in.diff_b", new float[7], 7);
        fails(bias, "diffusion_model.img_in.diff_b");
    }

    /** img_in deltas of twice the latent's width fit a base or a control model only; other widths fit none. */
    @Test
    void controlLoraOnAModelItDoesNotFit() throws IOException {
        TestLora control = new TestLora(4);
        control.matrix("img_in.lora_A.weight", 2, 128);
        control.matrix("img_in.lora_B.weight", H, 2);
        Path f = control.write(dir.resolve("control.safetensors"));
        Map<String, FluxTransformer.Shape> fill = new HashMap<>(model.transformer());
        fill.put("img_in", new FluxTransformer.Shape(H, 384));
        var e = assertThrows(ModelFormatException.class, () -> LoraSet.open(List.of(new LoraRef(f, 1)),
                new LoraSet.Model(fill, model.vectors(), model.clip()), w -> {}));
        assertTrue(e.getMessage().startsWith(f + ": ") && e.getMessage().contains("'img_in.lora_A.weight'")
                && e.getMessage().contains("control LoRA") && e.getMessage().contains("Fill") && e.getMessage().contains("384"), e.getMessage());
        assertTrue(fails(kohya(H, 2, 2, 192), "lora_unet_img_in.lora_down.weight").contains("192 columns"));
        // only img_in is ever widened
        assertTrue(fails(new TestLora(5).put("txt_in.lora_A.weight", new float[2 * 128], 2, 128).put("txt_in.lora_B.weight", new float[H * 2], H, 2),
                "txt_in.lora_A.weight").contains("128 columns"));
    }

    @Test
    void nonFiniteFactorsAndAlpha() throws IOException {
        TestLora nan = kohya(H, 2, 2, 64);
        float[] v = new float[2 * 64];
        v[5] = Float.NaN;
        nan.put("lora_unet_img_in.lora_down.weight", v, 2, 64);
        assertTrue(fails(nan, "lora_unet_img_in.lora_down.weight").contains("NaN"));
        TestLora inf = kohya(H, 2, 2, 64).scalar("lora_unet_img_in.alpha", Float.POSITIVE_INFINITY);
        fails(inf, "lora_unet_img_in.alpha");
    }

    @Test
    void halfAModule() throws IOException {
        TestLora up = new TestLora(4);
        up.matrix("lora_unet_img_in.lora_up.weight", H, 2);
        assertTrue(fails(up, "lora_unet_img_in.lora_up.weight").contains("lora_unet_img_in.lora_down.weight"));
        TestLora a = new TestLora(5);
        a.matrix("transformer.x_embedder.lora_A.weight", 2, 64);
        fails(a, "transformer.x_embedder.lora_A.weight");
        TestLora loha = new TestLora(6);
        loha.matrix("lora_unet_img_in.hada_w1_a", H, 2);
        loha.matrix("lora_unet_img_in.hada_w1_b", 2, 64);
        fails(loha, "lora_unet_img_in.hada_w1_a");
    }

    @Test
    void truncatedOrCorruptFiles() throws IOException {
        Path good = kohya(H, 2, 2, 64).write(dir.resolve("good.safetensors"));
        byte[] bytes = Files.readAllBytes(good);
        Path cut = Files.write(dir.resolve("cut.safetensors"), Arrays.copyOf(bytes, bytes.length - 10));
        var e = assertThrows(ModelFormatException.class, () -> LoraSet.open(List.of(new LoraRef(cut, 1)), model, w -> {}));
        assertTrue(e.getMessage().startsWith(cut + ": ") && e.getMessage().contains("truncated"), e.getMessage());
        Path junk = Files.writeString(dir.resolve("junk.safetensors"), "not a safetensors file at all");
        e = assertThrows(ModelFormatException.class, () -> LoraSet.open(List.of(new LoraRef(junk, 1)), model, w -> {}));
        assertTrue(e.getMessage().startsWith(junk + ": "), e.getMessage());
    }

    @Test
    void aFileNothingOfWhichMatchesFailsAndPartialMatchesWarnOnce() throws IOException {
        TestLora sdxl = new TestLora(7);
        sdxl.matrix("lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight", 320, 4);
        sdxl.matrix("lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", 4, 320);
        String m = fails(sdxl, "lora_unet_down_blocks_0_attentions_0_proj_in");
        assertTrue(m.contains("none of its 1 modules"), m);

        TestLora partly = kohya(H, 2, 2, 64);
        partly.matrix("lora_unet_double_blocks_7_img_attn_qkv.lora_up.weight", 3 * H, 2);
        partly.matrix("lora_unet_double_blocks_7_img_attn_qkv.lora_down.weight", 2, H);
        partly.matrix("lora_te2_encoder_block_0_layer_0_SelfAttention_q.lora_up.weight", 8, 2);
        partly.matrix("lora_te2_encoder_block_0_layer_0_SelfAttention_q.lora_down.weight", 2, 8);
        Path f = partly.write(dir.resolve("partly.safetensors"));
        List<String> warnings = new ArrayList<>();
        try (LoraSet set = LoraSet.open(List.of(new LoraRef(f, 1)), model, warnings::add)) {
            assertEquals(1, set.patches().size());
        }
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.getFirst().contains(f.toString()) && warnings.getFirst().contains("2 modules")
                && warnings.getFirst().contains("lora_unet_double_blocks_7_img_attn_qkv") && warnings.getFirst().contains("lora_te2_encoder_block_0_layer_0_SelfAttention_q"),
                warnings.getFirst());
    }

    @Test
    void unsupportedVariantsAreNamed() throws IOException {
        TestLora dora = kohya(H, 2, 2, 64);
        dora.put("lora_unet_img_in.dora_scale", new float[H], 1, H);
        assertTrue(fails(dora, "lora_unet_img_in.dora_scale").contains("DoRA"));
    }

    @Test
    void weightArguments() {
        assertEquals(new LoraRef(Path.of("a.safetensors"), -0.5), LoraRef.parse("a.safetensors:-0.5"));
        assertEquals(new LoraRef(Path.of("a.safetensors"), 1), LoraRef.parse("a.safetensors"));
        assertEquals(new LoraRef(Path.of("C:/x/a.safetensors"), 1), LoraRef.parse("C:/x/a.safetensors"));
        assertEquals(new LoraRef(Path.of("dir:with:colons/a"), 0.75), LoraRef.parse("dir:with:colons/a:.75"));
        assertEquals(new LoraRef(Path.of("a.safetensors:strong"), 1), LoraRef.parse("a.safetensors:strong"));
        assertThrows(IllegalArgumentException.class, () -> new LoraRef(Path.of("a"), Double.NaN));
    }
}
