package fluxj.text;

import fluxj.io.Checkpoint;
import fluxj.tensor.DType;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Tensor;
import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class T5EncoderTest {
    /**
     * The reference's float32 run differs from its float64 run by up to 5.9e-6 on the embeddings (meta.json;
     * values up to 3.2). Ours differs from a float64 evaluation of the same weights (numpy, outside the suite)
     * by 1.07e-5, from the reference's f32 by 1.28e-5: two independent f32 evaluations may differ by the sum of
     * their errors. 3e-5 leaves room for kernels that sum in another order; a wrong bucket, norm or activation
     * moves values by 1e-2 or more.
     */
    private static final double TOLERANCE = 3e-5;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TestFactory
    List<DynamicTest> hiddenStatesMatchReference() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (String id : TextFixtures.publicCases()) {
            for (TextFixtures.Layout layout : TextFixtures.Layout.values()) {
                tests.add(DynamicTest.dynamicTest(id + " " + layout, () -> {
                    TextFixtures.Source src = TextFixtures.t5(layout);
                    try (Checkpoint ck = src.open()) {
                        T5Encoder t5 = T5Encoder.load(ck, src.config());
                        float[] got = t5.encode(TextFixtures.intermediate(id, "t5_ids").ints());
                        double diff = Npy.maxAbsDiff(got, TextFixtures.intermediate(id, "t5_emb").floats());
                        assertTrue(diff <= TOLERANCE, "max |diff| " + diff);
                        assertEquals(64, t5.outDim());
                    }
                }));
            }
        }
        return tests;
    }

    @Test
    void sizesComeFromShapesWithoutConfig() throws IOException {
        try (Checkpoint ck = TextFixtures.t5(TextFixtures.Layout.SINGLE_FILE).open()) {
            assertEquals(new TextConfig.T5(64, 2, 64, 128, 2, 32128, 32, 128, 1e-6f, TextConfig.Activation.GELU_TANH, 64),
                    T5Encoder.load(ck, null).config());
        }
    }

    /** DistillT5 = T5, then Linear (no bias), ReLU, Linear (no bias); checked against that formula applied to the reference T5 output. */
    @Test
    void distillT5InBothKeyFormsProjectsTheEncoderOutput() throws IOException {
        String id = "p01_schnell_diffusers";
        int d = 64, out = 48;
        int[] ids = TextFixtures.intermediate(id, "t5_ids").ints();
        float[] reference = TextFixtures.intermediate(id, "t5_emb").floats();
        Random rnd = new Random(7);
        float[] w0 = uniform(rnd, out * d, 2.0 / d), w3 = uniform(rnd, out * out, 2.0 / out);
        int n = ids.length;
        double[] expected = new double[n * out];
        for (int t = 0; t < n; t++) {
            double[] mid = new double[out];
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int i = 0; i < d; i++) s += (double) reference[t * d + i] * w0[o * d + i];
                mid[o] = Math.max(0, s);
            }
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int i = 0; i < out; i++) s += mid[i] * w3[o * out + i];
                expected[t * out + o] = s;
            }
        }
        // Each Linear row has an L1 norm of at most 1 (entries within +-1/fan_in), ReLU is 1-Lipschitz: the
        // T5 tolerance carries over; 1e-6 covers the f32 rounding of the two projections themselves.
        double tolerance = TOLERANCE + 1e-6;
        try (Checkpoint t5 = TextFixtures.t5(TextFixtures.Layout.SINGLE_FILE).open(); Arena arena = Arena.ofShared()) {
            Map<String, Tensor> projection = Map.of(
                    "final_projection.0.weight", f32(arena, "final_projection.0.weight", w0, out, d),
                    "final_projection.3.weight", f32(arena, "final_projection.3.weight", w3, out, out));
            for (String root : List.of("encoder.", "")) {
                Map<String, Tensor> tensors = new LinkedHashMap<>();
                t5.tensors().forEach((k, v) -> tensors.put(root + k, v));
                tensors.putAll(projection);
                T5Encoder distill = T5Encoder.load(Checkpoint.of("distill-" + root, tensors), null);
                assertEquals(out, distill.outDim());
                float[] got = distill.encode(ids);
                assertEquals(expected.length, got.length);
                double diff = 0;
                for (int i = 0; i < got.length; i++) diff = Math.max(diff, Math.abs(got[i] - expected[i]));
                assertTrue(diff <= tolerance, "key form '" + root + "': max |diff| " + diff);
            }
        }
    }

    /**
     * ComfyUI "scaled fp8" files: weight = stored * scale_weight. Halved values with scale 2 give the same weights
     * exactly, so the results are identical (the kernels give the same bits whether the JIT has compiled them or
     * not). A missing scale would halve every product.
     */
    @Test
    void scaledWeightsAreMultipliedByTheirScale() throws IOException {
        int[] ids = TextFixtures.intermediate("p02_schnell_single_bf16", "t5_ids").ints();
        try (Checkpoint t5 = TextFixtures.t5(TextFixtures.Layout.SINGLE_FILE).open(); Arena arena = Arena.ofShared()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (var e : t5.tensors().entrySet()) {
                Tensor t = e.getValue();
                if (e.getKey().startsWith("encoder.block.") && t.rank() == 2 && !e.getKey().contains("relative_attention_bias")) {
                    float[] half = t.toFloats();
                    for (int i = 0; i < half.length; i++) half[i] /= 2;
                    tensors.put(e.getKey(), f32(arena, e.getKey(), half, t.dim(0), t.dim(1)));
                    String scale = e.getKey().replace(".weight", ".scale_weight");
                    tensors.put(scale, f32(arena, scale, new float[]{2f}));
                } else {
                    tensors.put(e.getKey(), t);
                }
            }
            float[] plain = T5Encoder.load(t5, null).encode(ids);
            assertArrayEquals(plain, T5Encoder.load(Checkpoint.of("scaled", tensors), null).encode(ids));
        }
    }

    /**
     * t5xxl_fp8_e4m3fn files: every matrix and the embedding in float8. The same values stored decoded as F32 must
     * give the identical result.
     */
    @Test
    void fp8WeightsEncodeLikeTheirDecodedValues() throws IOException {
        int[] ids = TextFixtures.intermediate("p03_schnell_single_fp8", "t5_ids").ints();
        try (Checkpoint t5 = TextFixtures.t5(TextFixtures.Layout.SINGLE_FILE).open(); Arena arena = Arena.ofShared()) {
            Map<String, Tensor> fp8 = new LinkedHashMap<>(), decoded = new LinkedHashMap<>();
            for (var e : t5.tensors().entrySet()) {
                Tensor t = e.getValue();
                if (t.rank() != 2 || e.getKey().contains("relative_attention_bias")) {
                    fp8.put(e.getKey(), t);
                    decoded.put(e.getKey(), t);
                    continue;
                }
                float[] v = t.toFloats();
                MemorySegment bytes = arena.allocate(v.length);
                for (int i = 0; i < v.length; i++) {
                    byte b = DType.floatToFp8E4M3(v[i]);
                    bytes.set(ValueLayout.JAVA_BYTE, i, b);
                    v[i] = DType.FP8_E4M3_TABLE[b & 0xff];
                }
                fp8.put(e.getKey(), new Tensor(e.getKey(), DType.F8_E4M3, t.shape(), bytes, "memory"));
                decoded.put(e.getKey(), f32(arena, e.getKey(), v, t.dim(0), t.dim(1)));
            }
            float[] expected = T5Encoder.load(Checkpoint.of("decoded", decoded), null).encode(ids);
            assertArrayEquals(expected, T5Encoder.load(Checkpoint.of("fp8", fp8), null).encode(ids));
        }
    }

    @Test
    void otherModelFilesAreNamed() throws IOException {
        assertLooksLike("flux1-tiny-schnell-single/clip_l.safetensors", "looks like a CLIP text encoder, not a T5 text encoder");
        assertLooksLike("flux1-tiny-schnell-single/flux1-schnell.safetensors", "looks like a FLUX transformer, not a T5 text encoder");
        assertLooksLike("flux1-tiny-schnell/vae", "looks like a VAE (autoencoder), not a T5 text encoder");
    }

    @Test
    void configDisagreeingWithWeightsIsAnError() throws IOException {
        TextFixtures.Source src = TextFixtures.t5(TextFixtures.Layout.DIFFUSERS);
        Map<String, Object> config = new HashMap<>(src.config());
        config.put("num_heads", 64L);
        try (Checkpoint ck = src.open()) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> T5Encoder.load(ck, config));
            assertTrue(e.getMessage().contains("config num_heads = 64 but the weights have 2"), e.getMessage());
        }
    }

    @Test
    void missingBlockTensorIsNamed() throws IOException {
        try (Checkpoint t5 = TextFixtures.t5(TextFixtures.Layout.SINGLE_FILE).open()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>(t5.tensors());
            tensors.remove("encoder.block.1.layer.1.DenseReluDense.wo.weight");
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> T5Encoder.load(Checkpoint.of("broken.safetensors", tensors), null));
            assertEquals("broken.safetensors: missing tensor 'block.1.layer.1.DenseReluDense.wo.weight'", e.getMessage());
        }
    }

    private static void assertLooksLike(String file, String message) throws IOException {
        try (Checkpoint ck = Checkpoint.open(Fixtures.model(file))) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> T5Encoder.load(ck, null));
            assertTrue(e.getMessage().contains(message), e.getMessage());
        }
    }

    private static float[] uniform(Random rnd, int n, double range) {
        float[] w = new float[n];
        for (int i = 0; i < n; i++) w[i] = (float) ((rnd.nextDouble() - 0.5) * range);
        return w;
    }

    private static Tensor f32(Arena arena, String name, float[] values, long... shape) {
        MemorySegment seg = arena.allocate((long) values.length * Float.BYTES);
        for (int i = 0; i < values.length; i++) seg.setAtIndex(F32, i, values[i]);
        return new Tensor(name, DType.F32, shape, seg, "memory");
    }
}
