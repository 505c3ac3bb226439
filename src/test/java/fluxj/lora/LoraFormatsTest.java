package fluxj.lora;

import fluxj.flux.FluxTransformer;
import fluxj.io.Checkpoint;
import fluxj.tensor.Tensor;
import fluxj.text.ClipTextModel;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static fluxj.lora.TestLora.hadamard;
import static fluxj.lora.TestLora.kron;
import static fluxj.lora.TestLora.mul;
import static fluxj.lora.TestLora.times;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every LoRA format on fixture family A (hidden 128, MLP 512, 1 double + 2 single blocks; CLIP-L width 64) with
 * LoRA files written here: the merged weights against {@code float32(float64(W) + sum m * delta)}, each delta
 * computed independently in float64 from the factors this test wrote.
 */
class LoraFormatsTest {
    static final int H = 128, MLP = 512;
    static Checkpoint ck, clipCk;
    static LoraSet.Model model;

    @TempDir
    Path dir;

    /** The expected patches: per BFL module, the summed weight delta over the whole layer, and bias deltas. */
    private final Map<String, double[][]> deltas = new HashMap<>();
    private final Map<String, double[]> biases = new HashMap<>();

    @BeforeAll
    static void load() throws IOException {
        ck = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell.safetensors"));
        clipCk = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/clip_l.safetensors"));
        FluxTransformer base = FluxTransformer.load(ck, null);
        var c = ClipTextModel.load(clipCk, null).config();
        model = new LoraSet.Model(base.linears(), base.vectors(), LoraSet.clipLayers(c.layers(), c.width(), c.mlp()));
    }

    @AfterAll
    static void close() {
        ck.close();
        clipCk.close();
    }

    /** Adds {@code m * delta} to rows [row, ...) of {@code module}'s expected delta; swapped: halves exchanged. */
    private void expect(String module, int row, double m, double[][] delta, boolean swap) {
        FluxTransformer.Shape s = model.transformer().containsKey(module) ? model.transformer().get(module) : model.clip().get(module);
        double[][] d = deltas.computeIfAbsent(module, k -> new double[s.out()][s.in()]);
        int half = delta.length / 2;
        for (int i = 0; i < delta.length; i++) {
            int target = row + (swap ? (i + half) % delta.length : i);
            for (int j = 0; j < delta[i].length; j++) d[target][j] += m * delta[i][j];
        }
    }

    private LoraSet open(List<String> warnings, Object... fileWeightPairs) throws IOException {
        List<LoraRef> refs = new ArrayList<>();
        for (int i = 0; i < fileWeightPairs.length; i += 2) refs.add(new LoraRef((Path) fileWeightPairs[i], (Double) fileWeightPairs[i + 1]));
        return LoraSet.open(refs, model, warnings::add);
    }

    /** Every expected module merged as the transformer patcher does, against the expectation; no other module touched. */
    private void verify(LoraSet set) {
        try (Arena arena = Arena.ofShared()) {
            for (String module : model.transformer().keySet()) {
                List<Patch> ps = set.patchesOf(Target.Component.TRANSFORMER, module);
                assertEquals(deltas.containsKey(module) || biases.containsKey(module), !ps.isEmpty(), module);
                if (deltas.containsKey(module)) {
                    Tensor w = ck.get(module + ".weight");
                    compare(module, w, Merge.rows(w, module, 0, w.rows(), w.cols(), w.rows(), ps, arena), deltas.get(module));
                }
                if (biases.containsKey(module)) {
                    float[] b = ck.get(module + ".bias").toFloats(), merged = Merge.bias(b, 0, b.length, ps);
                    for (int i = 0; i < b.length; i++) assertEquals((float) (b[i] + biases.get(module)[i]), merged[i], module + ".bias[" + i + "]");
                }
            }
        }
    }

    private static void compare(String module, Tensor base, Tensor merged, double[][] delta) {
        int cols = merged.cols();
        for (int i = 0; i < merged.rows(); i++) {
            for (int j = 0; j < cols; j++) {
                double w = j < base.cols() ? base.get((long) i * base.cols() + j) : 0;
                float want = (float) (w + delta[i][j]), got = merged.get((long) i * cols + j);
                // the same one rounding of a float64 sum; only the order of the float64 additions differs
                assertEquals(want, got, Math.ulp(want), module + "[" + i + ", " + j + "]");
            }
        }
    }

    @Test
    void kohyaWithFusedSplitQkvStackedWithNegativeWeight() throws IOException {
        TestLora fused = new TestLora(1);
        int r = 2;
        // sd-scripts split_qkv: the three downs stacked, the up block-diagonal; the rank is the stacked row count
        double[][] down = fused.matrix("lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight", 3 * r, H);
        float[] up = new float[3 * H * 3 * r];
        java.util.Random rnd = new java.util.Random(2);
        for (int s = 0; s < 3; s++) for (int i = 0; i < H; i++) for (int k = 0; k < r; k++) up[(s * H + i) * 3 * r + s * r + k] = rnd.nextFloat() - 0.5f;
        fused.put("lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight", up, 3 * H, 3 * r).scalar("lora_unet_double_blocks_0_img_attn_qkv.alpha", 4f);
        TestLora plain = new TestLora(3);
        double[][] d2 = plain.matrix("lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight", 4, H);
        double[][] u2 = plain.matrix("lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight", 3 * H, 4);
        double[][] d3 = plain.matrix("lora_unet_single_blocks_1_linear2.lora_down.weight", 3, H + MLP);
        double[][] u3 = plain.matrix("lora_unet_single_blocks_1_linear2.lora_up.weight", H, 3);
        plain.scalar("lora_unet_single_blocks_1_linear2.alpha", 1.5f);

        expect("double_blocks.0.img_attn.qkv", 0, 0.7 * 4.0 / (3 * r), mul(fused.get("lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight"), down), false);
        expect("double_blocks.0.img_attn.qkv", 0, -1.3, mul(u2, d2), false);
        expect("single_blocks.1.linear2", 0, -1.3 * 1.5 / 3, mul(u3, d3), false);
        List<String> warnings = new ArrayList<>();
        try (LoraSet set = open(warnings, fused.write(dir.resolve("fused.safetensors")), 0.7, plain.write(dir.resolve("plain.safetensors")), -1.3)) {
            verify(set);
        }
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    @Test
    void oneTrainerRowSlicesAndLycorisLohaInBothNamings() throws IOException {
        TestLora l = new TestLora(4);
        double[][] qd = l.matrix("lora_transformer_transformer_blocks_0_attn_to_q.lora_down.weight", 2, H);
        double[][] qu = l.matrix("lora_transformer_transformer_blocks_0_attn_to_q.lora_up.weight", H, 2);
        double[][] md = l.matrix("lora_transformer_single_transformer_blocks_1_proj_mlp.lora_down.weight", 3, H);
        double[][] mu = l.matrix("lora_transformer_single_transformer_blocks_1_proj_mlp.lora_up.weight", MLP, 3);
        double[][] nd = l.matrix("lora_transformer_norm_out_linear.lora_down.weight", 2, H);
        double[][] nu = l.matrix("lora_transformer_norm_out_linear.lora_up.weight", 2 * H, 2);
        String v = "lycoris_transformer_blocks_0_attn_add_v_proj";
        double[][] a1 = l.matrix(v + ".hada_w1_a", H, 3), b1 = l.matrix(v + ".hada_w1_b", 3, H);
        double[][] a2 = l.matrix(v + ".hada_w2_a", H, 2), b2 = l.matrix(v + ".hada_w2_b", 2, H);
        l.scalar(v + ".alpha", 2f);
        String k = "lora_unet_single_blocks_0_linear2";
        double[][] c1 = l.matrix(k + ".hada_w1_a", H, 2), e1 = l.matrix(k + ".hada_w1_b", 2, H + MLP);
        double[][] c2 = l.matrix(k + ".hada_w2_a", H, 2), e2 = l.matrix(k + ".hada_w2_b", 2, H + MLP);

        double m = 0.6;
        expect("double_blocks.0.img_attn.qkv", 0, m, mul(qu, qd), false);
        expect("single_blocks.1.linear1", 3 * H, m, mul(mu, md), false);
        expect("final_layer.adaLN_modulation.1", 0, m, mul(nu, nd), true);
        expect("double_blocks.0.txt_attn.qkv", 2 * H, m * 2.0 / 3, hadamard(mul(a1, b1), mul(a2, b2)), false);
        expect("single_blocks.0.linear2", 0, m, hadamard(mul(c1, e1), mul(c2, e2)), false);
        try (LoraSet set = open(new ArrayList<>(), l.write(dir.resolve("ot.safetensors")), m)) {
            verify(set);
        }
    }

    @Test
    void lokrFactorsWholeOrDecomposedInBothNamings() throws IOException {
        TestLora l = new TestLora(5);
        String a = "lycoris_transformer_blocks_0_ff_net_2";
        double[][] w1 = l.matrix(a + ".lokr_w1", 8, 16);
        double[][] w2 = mul(l.matrix(a + ".lokr_w2_a", 16, 3), l.matrix(a + ".lokr_w2_b", 3, 32));
        l.scalar(a + ".alpha", 6f);
        String b = "lora_unet_double_blocks_0_txt_mlp_0";
        double[][] v1 = mul(l.matrix(b + ".lokr_w1_a", 16, 2), l.matrix(b + ".lokr_w1_b", 2, 8));
        double[][] v2 = l.matrix(b + ".lokr_w2", 32, 16);
        l.scalar(b + ".alpha", 3f);
        String c = "lora_unet_final_layer_linear";
        double[][] x1 = l.matrix(c + ".lokr_w1", 4, 8), x2 = l.matrix(c + ".lokr_w2", 16, 16);
        l.scalar(c + ".alpha", 5f);

        expect("double_blocks.0.img_mlp.2", 0, 6.0 / 3, kron(w1, w2), false);
        expect("double_blocks.0.txt_mlp.0", 0, 3.0 / 2, kron(v1, v2), false);
        expect("final_layer.linear", 0, 1, kron(x1, x2), false); // both factors whole: alpha does not apply
        try (LoraSet set = open(new ArrayList<>(), l.write(dir.resolve("lokr.safetensors")), 1.0)) {
            verify(set);
        }
    }

    @Test
    void xlabsAndComfyUiDiffsAndBiases() throws IOException {
        TestLora l = new TestLora(6);
        double[][] xd = l.matrix("double_blocks.0.processor.qkv_lora1.down.weight", 4, H);
        double[][] xu = l.matrix("double_blocks.0.processor.qkv_lora1.up.weight", 3 * H, 4);
        double[][] sd = l.matrix("diffusion_model.single_blocks.0.processor.qkv_lora.down.weight", 2, H);
        double[][] su = l.matrix("diffusion_model.single_blocks.0.processor.qkv_lora.up.weight", 3 * H, 2);
        double[][] pd = l.matrix("double_blocks.0.processor.proj_lora2.down.weight", 2, H);
        double[][] pu = l.matrix("double_blocks.0.processor.proj_lora2.up.weight", H, 2);
        double[][] cd = l.matrix("diffusion_model.double_blocks.0.img_mlp.0.lora_down.weight", 3, H);
        double[][] cu = l.matrix("diffusion_model.double_blocks.0.img_mlp.0.lora_up.weight", MLP, 3);
        double[][] diff = l.matrix("diffusion_model.img_in.diff", H, 64);
        double[][] diffB = l.matrix("diffusion_model.img_in.diff_b", H, 1);
        l.put("diffusion_model.img_in.diff_b", l2f(diffB), H);

        double m = -0.4;
        expect("double_blocks.0.img_attn.qkv", 0, m, mul(xu, xd), false); // XLabs: the weight once, no alpha
        expect("single_blocks.0.linear1", 0, m, mul(su, sd), false);
        expect("double_blocks.0.txt_attn.proj", 0, m, mul(pu, pd), false);
        expect("double_blocks.0.img_mlp.0", 0, m, mul(cu, cd), false);
        expect("img_in", 0, m, diff, false);
        double[] bias = new double[H];
        for (int i = 0; i < H; i++) bias[i] = m * diffB[i][0];
        biases.put("img_in", bias);
        try (LoraSet set = open(new ArrayList<>(), l.write(dir.resolve("xl.safetensors")), m)) {
            verify(set);
        }
    }

    private static float[] l2f(double[][] column) {
        float[] f = new float[column.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) column[i][0];
        return f;
    }

    @Test
    void bflControlLoraBiasesNormScalesAndWidenedImgIn() throws IOException {
        TestLora l = new TestLora(7);
        double[][] a = l.matrix("double_blocks.0.img_attn.qkv.lora_A.weight", 2, H);
        double[][] b = l.matrix("double_blocks.0.img_attn.qkv.lora_B.weight", 3 * H, 2);
        double[][] bb = l.matrix("double_blocks.0.img_attn.qkv.lora_B.bias", 3 * H, 1);
        l.put("double_blocks.0.img_attn.qkv.lora_B.bias", l2f(bb), 3 * H);
        float[] scale = new float[H];
        for (int i = 0; i < H; i++) scale[i] = 1 + i / 100f;
        l.put("double_blocks.0.img_attn.norm.key_norm.scale", scale, H);
        double[][] ia = l.matrix("img_in.lora_A.weight", 2, 128);
        double[][] ib = l.matrix("img_in.lora_B.weight", H, 2);
        Path file = l.write(dir.resolve("canny.safetensors"));

        double m = 0.9;
        expect("double_blocks.0.img_attn.qkv", 0, m, mul(b, a), false);
        double[] bias = new double[3 * H];
        for (int i = 0; i < bias.length; i++) bias[i] = m * bb[i][0];
        biases.put("double_blocks.0.img_attn.qkv", bias);
        try (LoraSet set = open(new ArrayList<>(), file, m); Arena arena = Arena.ofShared()) {
            Patch widen = set.patchesOf(Target.Component.TRANSFORMER, "img_in").getFirst();
            assertEquals(128, widen.widenTo());
            // img_in widened to 128 inputs: the stored 64 columns, zeros after them, plus the delta
            Tensor w = ck.get("img_in.weight");
            double[][] d = times(m, mul(ib, ia));
            compare("img_in", w, Merge.rows(w, "img_in", 0, H, 128, H, List.of(widen), arena), d);
            // the norm scale is set, whatever the strength
            float[] stored = ck.get("double_blocks.0.img_attn.norm.key_norm.scale").toFloats();
            assertArrayEquals(scale, set.transformerPatcher(arena, true).vector("double_blocks.0.img_attn.norm.key_norm.scale", stored));
            biases.put("img_in", new double[H]);
            deltas.put("img_in", new double[H][64]);
            verifyExcept(set, "img_in");
            // the model built with it reads the latent and the control image, merged or not (img_in is a float copy either way)
            assertEquals(128, set.inputs("img_in", 64));
            for (boolean merge : new boolean[] {true, false}) {
                FluxTransformer t = FluxTransformer.load(ck, null, set.transformerPatcher(arena, merge));
                assertEquals(128, t.config().inChannels());
                assertEquals(128, t.linears().get("img_in").in());
            }
        }
    }

    /**
     * A control LoRA in kohya names widens img_in as BFL's does, and a base model's img_in LoRA stacked on it covers
     * the latent's 64 inputs only; on a control model (img_in 128 wide) such a LoRA is padded with zeros likewise
     * (diffusers' rule for a FluxControl model).
     */
    @Test
    void controlLoraStackedWithABaseModelsLoraAndABaseLoraOnAControlModel() throws IOException {
        TestLora control = new TestLora(11), style = new TestLora(12);
        double[][] cd = control.matrix("lora_unet_img_in.lora_down.weight", 3, 128);
        double[][] cu = control.matrix("lora_unet_img_in.lora_up.weight", H, 3);
        control.scalar("lora_unet_img_in.alpha", 1.5f);
        double[][] sd = style.matrix("transformer.x_embedder.lora_A.weight", 2, 64);
        double[][] su = style.matrix("transformer.x_embedder.lora_B.weight", H, 2);
        Path cf = control.write(dir.resolve("control.safetensors")), sf = style.write(dir.resolve("style.safetensors"));
        double[][] d = new double[H][128], styleDelta = times(-0.4, mul(su, sd)), controlDelta = times(0.7 * 1.5 / 3, mul(cu, cd));
        for (int i = 0; i < H; i++) {
            for (int j = 0; j < 128; j++) d[i][j] = controlDelta[i][j] + (j < 64 ? styleDelta[i][j] : 0);
        }
        Tensor w = ck.get("img_in.weight");
        try (LoraSet set = open(new ArrayList<>(), cf, 0.7, sf, -0.4); Arena arena = Arena.ofShared()) {
            assertEquals(128, set.inputs("img_in", 64));
            assertEquals(4L * H * 129, set.paddedCopyBytes());
            compare("img_in", w, Merge.rows(w, "img_in", 0, H, 128, H, set.patchesOf(Target.Component.TRANSFORMER, "img_in"), arena), d);
        }
        // the same base LoRA on a control model: the delta of its 64 columns, zeros for the control image's inputs
        Map<String, FluxTransformer.Shape> wide = new HashMap<>(model.transformer());
        wide.put("img_in", new FluxTransformer.Shape(H, 128));
        double[][] padded = new double[H][128];
        for (int i = 0; i < H; i++) System.arraycopy(styleDelta[i], 0, padded[i], 0, 64);
        try (LoraSet set = LoraSet.open(List.of(new LoraRef(sf, -0.4)), new LoraSet.Model(wide, model.vectors(), model.clip()), w2 -> {});
             Arena arena = Arena.ofShared()) {
            assertEquals(128, set.inputs("img_in", 128));
            compare("img_in", w, Merge.rows(w, "img_in", 0, H, 128, H, set.patchesOf(Target.Component.TRANSFORMER, "img_in"), arena), padded);
        }
    }

    private void verifyExcept(LoraSet set, String skip) {
        deltas.remove(skip);
        biases.remove(skip);
        try (Arena arena = Arena.ofShared()) {
            for (var e : deltas.entrySet()) {
                Tensor w = ck.get(e.getKey() + ".weight");
                compare(e.getKey(), w, Merge.rows(w, e.getKey(), 0, w.rows(), w.cols(), w.rows(), set.patchesOf(Target.Component.TRANSFORMER, e.getKey()), arena), e.getValue());
            }
            for (var e : biases.entrySet()) {
                float[] bias = ck.get(e.getKey() + ".bias").toFloats();
                float[] merged = Merge.bias(bias, 0, bias.length, set.patchesOf(Target.Component.TRANSFORMER, e.getKey()));
                for (int i = 0; i < bias.length; i++) assertEquals((float) (bias[i] + e.getValue()[i]), merged[i]);
            }
        }
    }

    @Test
    void clipLoraInKohyaAndDiffusersNamesPatchesTheTextEncoder() throws IOException {
        TestLora l = new TestLora(8);
        int w = 64;
        double[][] qd = l.matrix("lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", 2, w);
        double[][] qu = l.matrix("lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", w, 2);
        l.scalar("lora_te1_text_model_encoder_layers_0_self_attn_q_proj.alpha", 1f);
        double[][] fd = l.matrix("text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_A.weight", 3, w);
        double[][] fu = l.matrix("text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_B.weight", 4 * w, 3);
        double m = 1.2;
        try (LoraSet set = open(new ArrayList<>(), l.write(dir.resolve("te.safetensors")), m); Arena arena = Arena.ofShared()) {
            assertTrue(set.patchesClip());
            assertFalse(set.patchesTransformer());
            Checkpoint patched = set.patchClip(clipCk, arena);
            String p = "text_model.encoder.layers.0.";
            compare("q_proj", clipCk.get(p + "self_attn.q_proj.weight"), patched.get(p + "self_attn.q_proj.weight"), times(m * 0.5, mul(qu, qd)));
            compare("fc1", clipCk.get(p + "mlp.fc1.weight"), patched.get(p + "mlp.fc1.weight"), times(m, mul(fu, fd)));
            assertTrue(clipCk.get(p + "self_attn.k_proj.weight") == patched.get(p + "self_attn.k_proj.weight"));
            int[] ids = new int[77];
            ids[0] = 49406;
            ids[1] = 320;
            java.util.Arrays.fill(ids, 2, 77, 49407);
            float[] before = ClipTextModel.load(clipCk, null).pooled(ids), after = ClipTextModel.load(patched, null).pooled(ids);
            assertFalse(java.util.Arrays.equals(before, after), "the pooled vector did not change");
        }
    }
}
