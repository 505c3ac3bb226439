package fluxj.flux;

import fluxj.io.Checkpoint;
import fluxj.lora.LoraRef;
import fluxj.memory.BlockLayout;
import fluxj.memory.BlockStreamer;
import fluxj.lora.LoraSet;
import fluxj.tensor.Tensor;
import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import fluxj.testing.TestLoras;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LoRA on the transformer: the kohya case pl01 against the reference's velocities and latents, merged and on the
 * low-rank path; the two paths against each other; and the low-rank path on FP8 and GGUF models against their
 * decoded weights merged.
 */
class LoraTransformerTest {
    static final String BF16 = "flux1-tiny-schnell-single/flux1-schnell.safetensors";
    static final String FP8 = "flux1-tiny-schnell-single/flux1-schnell-fp8-e4m3fn.safetensors";
    static final LoraRef KOHYA = new LoraRef(Fixtures.model("flux1-tiny-lora/flux1-tiny-schnell-lora-kohya.safetensors"), 1.0);
    static final LoraRef PEFT = new LoraRef(Fixtures.model("flux1-tiny-lora/flux1-tiny-schnell-lora-peft.safetensors"), -0.7);

    private static LoraSet open(Checkpoint ck, List<LoraRef> refs) throws IOException {
        FluxTransformer base = FluxTransformer.load(ck, null);
        return LoraSet.open(refs, new LoraSet.Model(base.linears(), base.vectors(), java.util.Map.of()), w -> { throw new AssertionError(w); });
    }

    @Test
    void kohyaCaseMatchesTheReferenceMergedAndLowRank() throws IOException {
        try (Checkpoint ck = Checkpoint.open(Fixtures.model(BF16)); LoraSet set = open(ck, List.of(KOHYA)); Arena arena = Arena.ofShared()) {
            FluxTransformerFixtureTest.runCase(FluxTransformer.load(ck, null, set.transformerPatcher(arena, true)), "pl01_schnell_lora_kohya");
            FluxTransformerFixtureTest.runCase(FluxTransformer.load(ck, null, set.transformerPatcher(arena, false)), "pl01_schnell_lora_kohya");
        }
    }

    /** Streaming the stored blocks (paged in and out around each block) leaves a LoRA'd model's velocity as it was. */
    @Test
    void streamingKeepsTheLora() throws IOException {
        FluxTransformerFixtureTest.Inputs in = FluxTransformerFixtureTest.Inputs.read("pl01_schnell_lora_kohya");
        try (Checkpoint ck = Checkpoint.open(Fixtures.model(BF16)); LoraSet set = open(ck, List.of(KOHYA)); Arena arena = Arena.ofShared()) {
            for (boolean merge : new boolean[] {true, false}) {
                FluxTransformer t = FluxTransformer.load(ck, null, set.transformerPatcher(arena, merge));
                float[] resident = in.velocity(t, in.noise(), 0);
                try (BlockStreamer s = new BlockStreamer(BlockLayout.of(ck).segments(), 2)) {
                    t.setBlockHook(s);
                    // paging cannot change a value; only JIT tiers may round exp and lane sums in the last bits
                    assertArrayEquals(resident, in.velocity(t, in.noise(), 0), 1e-5f);
                }
            }
        }
    }

    /** Every step of the Euler loop of pl01's inputs with two stacked LoRAs (one negative), merged vs low-rank. */
    @Test
    void mergedAndLowRankPathsAgree() throws IOException {
        try (Checkpoint ck = Checkpoint.open(Fixtures.model(BF16)); LoraSet set = open(ck, List.of(KOHYA, PEFT)); Arena arena = Arena.ofShared()) {
            FluxTransformer m1 = FluxTransformer.load(ck, null, set.transformerPatcher(arena, true));
            FluxTransformer m2 = FluxTransformer.load(ck, null, set.transformerPatcher(arena, false));
            double d = maxLatentDifference(m1, m2);
            // float32 sums in another order (a product with up @ down against x through down then up): the
            // reference's own f32-vs-f64 spread on the final latent of this case is 3.2e-5 (meta.json); allow that.
            assertTrue(d < 3.2e-5, "merged and low-rank latents differ by " + d);
        }
    }

    /**
     * An FP8 model keeps its FP8 weights and gets the LoRA beside the matmul; the reference semantics are the decoded
     * FP8 weights plus the delta, merged in float64.
     */
    @Test
    void lowRankPathOnAnFp8ModelEqualsItsDecodedWeightsMerged() throws IOException {
        lowRankEqualsDecodedMerged(Fixtures.model(FP8), List.of(KOHYA, PEFT));
    }

    /** GGUF Q8_0 and Q4_K (family G) with a LoRA on every linear layer: never re-quantized, run beside the matmul. */
    @Test
    void lowRankPathOnGgufModelsEqualsTheirDecodedWeightsMerged(@TempDir Path dir) throws IOException {
        for (String file : List.of("flux1-g-schnell-Q8_0.gguf", "flux1-g-schnell-Q4_K_S.gguf")) {
            Path model = Fixtures.model("flux1-tiny-gguf/" + file);
            Path lora = TestLoras.everyLayer(model, dir.resolve(file + ".lora.safetensors"));
            lowRankEqualsDecodedMerged(model, List.of(new LoraRef(lora, 0.8), new LoraRef(lora, -0.3)));
        }
    }

    /**
     * A Canny/Depth control LoRA on FP8 and GGUF base models: img_in becomes a float32 copy twice as wide (the
     * stored weight, zeros, plus the delta), every other layer keeps its stored weight with the LoRA beside it; the
     * velocity equals the decoded weights merged in float64.
     */
    @Test
    void controlLoraOnQuantizedModelsWidensImgInAsAFloatPatch(@TempDir Path dir) throws IOException {
        for (Path model : List.of(Fixtures.model(FP8), Fixtures.model("flux1-tiny-gguf/flux1-g-schnell-Q8_0.gguf"),
                Fixtures.model("flux1-tiny-gguf/flux1-g-schnell-Q4_K_S.gguf"))) {
            Path lora = TestLoras.control(model, dir.resolve(model.getFileName() + ".control.safetensors"));
            try (Checkpoint ck = Checkpoint.open(model); LoraSet set = open(ck, List.of(new LoraRef(lora, 0.85))); Arena arena = Arena.ofShared()) {
                WeightPatcher patcher = set.transformerPatcher(arena, true);
                FluxTransformer lowRank = FluxTransformer.load(ck, null, patcher);
                FluxTransformer merged = FluxTransformer.load(ck, null, new WeightPatcher() {
                    @Override
                    public int inputs(String module, int stored) { return patcher.inputs(module, stored); }

                    @Override
                    public Linear.Part linear(String module, int row, Linear.Part part) {
                        return patcher.linear(module, row, new Linear.Part(decoded(part.weight(), arena), part.bias()));
                    }

                    @Override
                    public float[] vector(String name, float[] stored) { return patcher.vector(name, stored); }
                });
                FluxConfig c = lowRank.config();
                assertEquals(2 * c.outChannels(), c.inChannels(), model.toString());
                int tokens = 16, txt = 8;
                float[] img = random(tokens * c.inChannels(), 1), ids = new float[tokens * 3], text = random(txt * c.contextDim(), 2);
                for (int t = 0; t < tokens; t++) {
                    ids[t * 3 + 1] = t / 4;
                    ids[t * 3 + 2] = t % 4;
                }
                float[] a = lowRank.forward(img, tokens, ids, text, txt, new float[txt * 3], 0.7f, random(c.vecDim(), 3), 3.5f);
                float[] b = merged.forward(img, tokens, ids, text, txt, new float[txt * 3], 0.7f, random(c.vecDim(), 3), 3.5f);
                double scale = 0;
                for (float v : b) scale = Math.max(scale, Math.abs(v));
                // float32 sums in another order (x through down then up against the merged product): relative 1e-5
                assertTrue(Npy.maxAbsDiff(a, b) <= 1e-5 * scale, model + ": low-rank vs decoded-and-merged velocities differ by "
                        + Npy.maxAbsDiff(a, b) + " (max " + scale + ")");
            }
        }
    }

    private static float[] random(int n, long seed) {
        java.util.Random r = new java.util.Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    /**
     * The model at {@code path} with {@code refs} on the low-rank path (its stored weights kept, with terms beside
     * them) against the same model whose every weight is decoded to float32 and merged: the reference semantics.
     */
    private static void lowRankEqualsDecodedMerged(Path path, List<LoraRef> refs) throws IOException {
        try (Checkpoint ck = Checkpoint.open(path); LoraSet set = open(ck, refs); Arena arena = Arena.ofShared()) {
            WeightPatcher lora = set.transformerPatcher(arena, true);
            java.util.Map<String, Linear.Part> reference = new java.util.HashMap<>();
            int[] patched = {0};
            FluxTransformer lowRank = FluxTransformer.load(ck, null, new WeightPatcher() {
                @Override
                public Linear.Part linear(String module, int row, Linear.Part part) {
                    Tensor decoded = decoded(part.weight(), arena);
                    Linear.Part merged = lora.linear(module, row, new Linear.Part(decoded, part.bias()));
                    reference.put(module + "." + row, merged);
                    Linear.Part p = lora.linear(module, row, part);
                    if (merged.weight() != decoded && !part.weight().dtype().equals(fluxj.tensor.DType.BF16)) {
                        patched[0]++;
                        assertTrue(p.weight() == part.weight() && !p.terms().isEmpty(), module + ": " + part.weight().dtype() + " weight not kept with terms beside it");
                    }
                    return p;
                }
            });
            assertTrue(patched[0] > 10, path + ": " + patched[0] + " quantized parts patched");
            FluxTransformer merged = FluxTransformer.load(ck, null, new WeightPatcher() {
                @Override
                public Linear.Part linear(String module, int row, Linear.Part part) { return reference.get(module + "." + row); }
            });
            double d = maxLatentDifference(lowRank, merged);
            // as mergedAndLowRankPathsAgree: float32 sums in another order, within the reference's own f32 spread
            assertTrue(d < 3.2e-5, path + ": low-rank vs decoded-and-merged latents differ by " + d);
        }
    }

    /** An F32 copy of a weight as the model uses it (FP8 decoded and scaled), so that the patcher merges it. */
    private static Tensor decoded(Tensor w, Arena arena) {
        var seg = arena.allocate(4L * w.numel(), 64);
        for (long i = 0; i < w.numel(); i++) seg.set(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, 4 * i, w.get(i));
        return new Tensor(w.name(), fluxj.tensor.DType.F32, w.shape(), seg, "decoded");
    }

    private static double maxLatentDifference(FluxTransformer a, FluxTransformer b) {
        FluxTransformerFixtureTest.Inputs in = FluxTransformerFixtureTest.Inputs.read("pl01_schnell_lora_kohya");
        float[] x = in.noise().clone(), y = in.noise().clone();
        double worst = 0;
        for (int i = 0; i < in.timesteps().length - 1; i++) {
            float[] va = in.velocity(a, x, i), vb = in.velocity(b, y, i);
            float dt = (float) (in.timesteps()[i + 1] - in.timesteps()[i]);
            for (int j = 0; j < x.length; j++) {
                x[j] += dt * va[j];
                y[j] += dt * vb[j];
            }
            worst = Math.max(worst, Npy.maxAbsDiff(x, y));
        }
        return worst;
    }
}
