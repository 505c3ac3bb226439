package fluxj.flux;

import fluxj.bench.RandomFlux;
import fluxj.io.Checkpoint;
import fluxj.tensor.DType;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Tensor;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Loading: config sidecars, guidance models, ComfyUI scaled FP8 and every kind of bad checkpoint. */
class FluxTransformerLoadTest {
    static final Arena ARENA = Arena.ofAuto();
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A tiny model with head dim 32 (2 heads x 32), so rope axes must come from a config. */
    static FluxConfig smallHeads(boolean guidance) {
        return new FluxConfig(64, 2, 1, 1, 256, 64, 64, 48, 40, guidance, true, new int[] {8, 12, 12}, 10000);
    }

    static final Map<String, Object> FLUX_PARAMS = Map.of("hidden_size", 64L, "num_heads", 2L, "depth", 1L,
            "depth_single_blocks", 1L, "axes_dim", List.of(8L, 12L, 12L), "theta", 10000L, "mlp_ratio", 4.0,
            "in_channels", 64L, "context_in_dim", 48L, "vec_in_dim", 40L);

    @Test
    void headDim32NeedsConfig() {
        Checkpoint ck = RandomFlux.build(smallHeads(false), DType.BF16, 1, ARENA);
        var e = assertThrows(ModelFormatException.class, () -> FluxTransformer.load(ck, null));
        assertTrue(e.getMessage().contains("head dim 32") && e.getMessage().contains("axes"), e.getMessage());

        FluxTransformer t = FluxTransformer.load(ck, FLUX_PARAMS);
        assertEquals(2, t.config().heads());
        assertArrayEquals(new int[] {8, 12, 12}, t.config().axesDim());
        FluxTransformer wrapped = FluxTransformer.load(ck, Map.of("flux_params", FLUX_PARAMS));
        // Identical models; the calls differ only in JIT state, which the kernels' results do not depend on.
        assertArrayEquals(run(t, 0f), run(wrapped, 0f));
    }

    @Test
    void diffusersConfigGivesAxes() {
        Checkpoint ck = RandomFlux.build(smallHeads(false), DType.BF16, 1, ARENA);
        Map<String, Object> cfg = Map.of("num_layers", 1L, "num_single_layers", 1L, "attention_head_dim", 32L,
                "num_attention_heads", 2L, "joint_attention_dim", 48L, "pooled_projection_dim", 40L, "in_channels", 64L,
                "guidance_embeds", false, "axes_dims_rope", List.of(8L, 12L, 12L));
        assertArrayEquals(run(FluxTransformer.load(ck, FLUX_PARAMS), 0f), run(FluxTransformer.load(ck, cfg), 0f));
    }

    @Test
    void configContradictingTheTensorsIsAnError() {
        Checkpoint ck = RandomFlux.build(smallHeads(false), DType.BF16, 1, ARENA);
        Map<String, Object> cfg = new LinkedHashMap<>(FLUX_PARAMS);
        cfg.put("depth", 19L);
        var e = assertThrows(ModelFormatException.class, () -> FluxTransformer.load(ck, cfg));
        assertTrue(e.getMessage().contains("depth = 19") && e.getMessage().contains("1"), e.getMessage());
        cfg.put("depth", 1L);
        cfg.put("axes_dim", List.of(8L, 8L, 8L));
        e = assertThrows(ModelFormatException.class, () -> FluxTransformer.load(ck, cfg));
        assertTrue(e.getMessage().contains("rope axes"), e.getMessage());
    }

    /** Config values of the wrong JSON type are named as such; reals without a fraction count as integers. */
    @Test
    void configValuesOfTheWrongTypeAreNamed() {
        Checkpoint ck = RandomFlux.build(smallHeads(false), DType.BF16, 1, ARENA);
        Map<String, Object> reals = new LinkedHashMap<>(FLUX_PARAMS);
        reals.put("hidden_size", 64.0);
        reals.put("axes_dim", List.of(8.0, 12L, 12.0));
        reals.put("theta", 10000.0);
        assertEquals(64, FluxTransformer.load(ck, reals).config().hidden());

        for (var bad : List.of(Map.entry("hidden_size", (Object) "64"), Map.entry("hidden_size", 64.5), Map.entry("depth", true),
                Map.entry("guidance_embed", "false"), Map.entry("theta", "10000"), Map.entry("mlp_ratio", "4"),
                Map.entry("axes_dim", List.of(8.5, 12L, 12L)), Map.entry("axes_dim", "8,12,12"))) {
            Map<String, Object> cfg = new LinkedHashMap<>(FLUX_PARAMS);
            cfg.put(bad.getKey(), bad.getValue());
            var e = assertThrows(ModelFormatException.class, () -> FluxTransformer.load(ck, cfg), bad.toString());
            assertTrue(e.getMessage().startsWith(ck.description() + ": config " + bad.getKey() + " = " + bad.getValue() + " is not "),
                    e.getMessage());
        }
    }

    /** A dev-style model: guidance_in is found and the guidance value changes the velocity. */
    @Test
    void guidanceEmbedderIsUsed() {
        Checkpoint ck = RandomFlux.build(smallHeads(true), DType.F32, 2, ARENA);
        FluxTransformer t = FluxTransformer.load(ck, FLUX_PARAMS);
        assertTrue(t.config().guidanceEmbed());
        float[] a = run(t, 1f), b = run(t, 3.5f);
        assertTrue(fluxj.testing.Npy.maxAbsDiff(a, b) > 1e-3, "guidance has no effect");
    }

    /** ComfyUI scaled FP8 (legacy marker + scale_weight, and comfy_quant + weight_scale) equals its dequantised F32 copy. */
    @Test
    void scaledFp8MatchesDequantisedWeights() throws IOException {
        try (Checkpoint bf16 = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell.safetensors"))) {
            Map<String, Tensor> legacy = new LinkedHashMap<>(), current = new LinkedHashMap<>(), dequant = new LinkedHashMap<>();
            legacy.put("scaled_fp8", tensor("scaled_fp8", DType.F8_E4M3, new long[] {0}, MemorySegment.NULL));
            bf16.tensors().forEach((name, t) -> {
                if (t.rank() != 2) {
                    legacy.put(name, t);
                    current.put(name, t);
                    dequant.put(name, t);
                    return;
                }
                String layer = name.substring(0, name.length() - ".weight".length());
                float[] w = t.toFloats();
                float amax = 0;
                for (float v : w) amax = Math.max(amax, Math.abs(v));
                float scale = amax / 448f;
                MemorySegment q = ARENA.allocate(w.length), deq = ARENA.allocate(4L * w.length);
                for (int i = 0; i < w.length; i++) {
                    byte b = DType.floatToFp8E4M3(w[i] / scale);
                    q.set(ValueLayout.JAVA_BYTE, i, b);
                    deq.set(F32, 4L * i, DType.FP8_E4M3_TABLE[b & 0xff] * scale);
                }
                Tensor fp8 = tensor(name, DType.F8_E4M3, t.shape(), q);
                legacy.put(name, fp8);
                legacy.put(layer + ".scale_weight", scalar(layer + ".scale_weight", scale));
                legacy.put(layer + ".scale_input", scalar(layer + ".scale_input", 1f));
                current.put(name, fp8);
                current.put(layer + ".weight_scale", scalar(layer + ".weight_scale", scale));
                current.put(layer + ".comfy_quant", json(layer + ".comfy_quant", "{\"format\": \"float8_e4m3fn\"}"));
                dequant.put(name, tensor(name, DType.F32, t.shape(), deq));
            });
            float[] expected = run(Checkpoint.of("dequantised", dequant));
            // The kernel multiplies the widened FP8 value by the scale in f32, exactly the dequantised F32 weight.
            assertArrayEquals(expected, run(Checkpoint.of("scaled-fp8", legacy)));
            assertArrayEquals(expected, run(Checkpoint.of("comfy-quant", current)));
            float[] full = run(bf16);
            double amax = 0;
            for (float v : full) amax = Math.max(amax, Math.abs(v));
            // The quantised model is still the same model: e4m3's 3-bit mantissa moves weights by up to 6%, the
            // velocities here by ~6% of their range (measured 0.25 of 4.0); a lost scale would be off by orders.
            double diff = fluxj.testing.Npy.maxAbsDiff(expected, full);
            assertTrue(diff < 0.15 * amax, "FP8 vs BF16 velocity differs by " + diff + " of " + amax);

            current.put("img_in.comfy_quant", json("img_in.comfy_quant", "{\"format\": \"nvfp4\"}"));
            var e = assertThrows(ModelFormatException.class, () -> FluxTransformer.load(Checkpoint.of("nvfp4", current), null));
            assertTrue(e.getMessage().contains("nvfp4") && e.getMessage().contains("not supported"), e.getMessage());
        }
    }

    @Test
    void missingExtraAndMisshapenTensorsAreNamed() throws IOException {
        String missing = "double_blocks.0.img_mlp.2.bias";
        expectError(m -> m.remove(missing), missing);
        expectError(m -> m.put("double_blocks.0.img_attn.lora_up.weight", m.get("img_in.bias")), "double_blocks.0.img_attn.lora_up.weight");
        expectError(m -> m.put("txt_in.weight", m.get("img_in.bias")), "txt_in.weight");
        expectError(m -> m.put("double_blocks.0.txt_attn.qkv.weight", m.get("double_blocks.0.img_mlp.0.weight")), "txt_attn.qkv");
        expectError(m -> {
            m.clear();
            m.put("shared.weight", tensor("shared.weight", DType.F32, new long[] {4, 4}, ARENA.allocate(64)));
        }, "T5");
        // image-conditioned models read more channels than they predict, never fewer
        expectError(m -> m.put("img_in.weight", tensor("img_in.weight", DType.F32, new long[] {128, 32}, ARENA.allocate(4L * 128 * 32))),
                "img_in takes only 32");
    }

    private static void expectError(Consumer<Map<String, Tensor>> edit, String mention) throws IOException {
        try (Checkpoint ck = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell.safetensors"))) {
            Map<String, Tensor> m = new LinkedHashMap<>(ck.tensors());
            edit.accept(m);
            var e = assertThrows(ModelFormatException.class, () -> FluxTransformer.load(Checkpoint.of("edited.safetensors", m), null));
            assertTrue(e.getMessage().contains(mention), e.getMessage());
            assertTrue(e.file().endsWith(".safetensors"), "error names no file: " + e.getMessage());
        }
    }

    private static float[] run(Checkpoint ck) { return run(FluxTransformer.load(ck, null), 0f); }

    /** One forward on a 2x3 token grid with 5 text tokens and fixed pseudo-random inputs. */
    static float[] run(FluxTransformer t, float guidance) {
        FluxConfig c = t.config();
        int imgLen = 6, txtLen = 5;
        float[] ids = new float[imgLen * 3];
        for (int i = 0; i < imgLen; i++) {
            ids[i * 3 + 1] = i / 3;
            ids[i * 3 + 2] = i % 3;
        }
        return t.forward(wave(imgLen * c.inChannels(), 1), imgLen, ids, wave(txtLen * c.contextDim(), 2), txtLen,
                new float[txtLen * 3], 0.75f, wave(c.vecDim(), 3), guidance);
    }

    static float[] wave(int n, int k) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) Math.sin(0.37 * i * k + k);
        return a;
    }

    static Tensor tensor(String name, DType dt, long[] shape, MemorySegment data) {
        return new Tensor(name, dt, shape, data, "edited.safetensors");
    }

    static Tensor scalar(String name, float v) {
        MemorySegment s = ARENA.allocate(4);
        s.set(F32, 0, v);
        return tensor(name, DType.F32, new long[0], s);
    }

    static Tensor json(String name, String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        MemorySegment s = ARENA.allocate(b.length);
        MemorySegment.copy(b, 0, s, ValueLayout.JAVA_BYTE, 0, b.length);
        return tensor(name, DType.U8, new long[] {b.length}, s);
    }
}
