package fluxj.tools;

import fluxj.io.Checkpoint;
import fluxj.io.ModelKind;
import fluxj.io.ModelKind.Layout;
import fluxj.io.TensorSpec;
import fluxj.tensor.DType;
import fluxj.tensor.Tensor;
import fluxj.testing.Fixtures;
import fluxj.tools.RandomCheckpoint.ClipShape;
import fluxj.tools.RandomCheckpoint.FluxShape;
import fluxj.tools.RandomCheckpoint.Planned;
import fluxj.tools.RandomCheckpoint.T5Shape;
import fluxj.tools.RandomCheckpoint.VaeShape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

class RandomCheckpointTest {
    @TempDir
    Path dir;

    static final FluxShape TINY_FLUX = new FluxShape(128, 64, 64, 64, 512, 1, 2, false);
    static final T5Shape TINY_T5 = new T5Shape(64, 2, 2, 64, 128, 32128, 32, 0);
    static final ClipShape TINY_CLIP = new ClipShape(64, 2, 1, 256, 49408, 77);
    static final VaeShape TINY_VAE = new VaeShape(32, List.of(1, 2, 2, 2), 2, 16);

    static List<TensorSpec> specs(List<Planned> plan) { return plan.stream().map(Planned::spec).toList(); }

    static void assertSameTensors(String fixture, List<Planned> plan) throws IOException {
        try (Checkpoint ck = Checkpoint.open(Fixtures.model(fixture))) {
            assertEquals(new HashSet<>(ck.tensors().values().stream().map(TensorSpec::of).toList()), new HashSet<>(specs(plan)), fixture);
        }
    }

    /** With the fixtures' tiny sizes, every layout gives exactly the fixture files' names, dtypes and shapes. */
    @Test
    void tinyPlansMatchTheFixtureFiles() throws IOException {
        assertSameTensors("flux1-tiny-schnell-single/flux1-schnell.safetensors", RandomCheckpoint.flux(TINY_FLUX, Layout.BFL, DType.BF16));
        assertSameTensors("flux1-tiny-schnell-single/flux1-schnell-fp8-e4m3fn.safetensors", RandomCheckpoint.flux(TINY_FLUX, Layout.BFL, DType.F8_E4M3));
        assertSameTensors("flux1-tiny-schnell/transformer", RandomCheckpoint.flux(TINY_FLUX, Layout.DIFFUSERS, DType.BF16));
        assertSameTensors("flux1-tiny-schnell-single/ae.safetensors", RandomCheckpoint.vae(TINY_VAE, Layout.BFL, DType.F32));
        assertSameTensors("flux1-tiny-schnell/vae", RandomCheckpoint.vae(TINY_VAE, Layout.DIFFUSERS, DType.BF16));
        assertSameTensors("flux1-tiny-schnell-single/clip_l.safetensors", RandomCheckpoint.clip(TINY_CLIP, Layout.BFL, DType.F16));
        assertSameTensors("flux1-tiny-schnell/text_encoder", RandomCheckpoint.clip(TINY_CLIP, Layout.DIFFUSERS, DType.BF16));
        assertSameTensors("flux1-tiny-schnell-single/t5xxl_fp16.safetensors", RandomCheckpoint.t5(TINY_T5, Layout.BFL, DType.F16));
        assertSameTensors("flux1-tiny-schnell/text_encoder_2", RandomCheckpoint.t5(TINY_T5, Layout.DIFFUSERS, DType.BF16));
    }

    static Map<String, TensorSpec> byName(List<Planned> plan) {
        return specs(plan).stream().collect(Collectors.toMap(TensorSpec::name, Function.identity()));
    }

    static void assertShape(Map<String, TensorSpec> m, String name, long... shape) {
        assertTrue(m.containsKey(name), name);
        assertArrayEquals(shape, m.get(name).shape(), name);
    }

    /** Full-width, one-block plans (never written): the real FLUX.1 shapes, recognised as what they are. */
    @Test
    void fullWidthPlansHaveTheRealShapes() {
        FluxShape r = FluxShape.real();
        FluxShape oneBlock = new FluxShape(r.hidden(), r.inChannels(), r.contextDim(), r.vecDim(), r.mlpHidden(), 1, 1, true);
        Map<String, TensorSpec> f = byName(RandomCheckpoint.flux(oneBlock, Layout.BFL, DType.BF16));
        assertShape(f, "img_in.weight", 3072, 64);
        assertShape(f, "txt_in.weight", 3072, 4096);
        assertShape(f, "time_in.in_layer.weight", 3072, 256);
        assertShape(f, "vector_in.in_layer.weight", 3072, 768);
        assertShape(f, "guidance_in.in_layer.weight", 3072, 256);
        assertShape(f, "guidance_in.out_layer.weight", 3072, 3072);
        assertShape(f, "double_blocks.0.img_attn.qkv.weight", 9216, 3072);
        assertShape(f, "double_blocks.0.txt_attn.qkv.bias", 9216);
        assertShape(f, "double_blocks.0.img_attn.norm.query_norm.scale", 128);
        assertShape(f, "double_blocks.0.img_mlp.0.weight", 12288, 3072);
        assertShape(f, "double_blocks.0.txt_mlp.2.weight", 3072, 12288);
        assertShape(f, "double_blocks.0.img_mod.lin.weight", 18432, 3072);
        assertShape(f, "single_blocks.0.linear1.weight", 21504, 3072);
        assertShape(f, "single_blocks.0.linear2.weight", 3072, 15360);
        assertShape(f, "single_blocks.0.modulation.lin.weight", 9216, 3072);
        assertShape(f, "final_layer.adaLN_modulation.1.weight", 6144, 3072);
        assertShape(f, "final_layer.linear.weight", 64, 3072);
        assertEquals(new ModelKind.Flux("", Layout.BFL, true, 64, 3072, 1, 1, new ModelKind.Fp8(0, 0, false, 0, 0)), ModelKind.of(f.values()));
        // FLUX.1-dev's published parameter count; schnell lacks guidance_in's 10,229,760.
        FluxShape dev = new FluxShape(r.hidden(), r.inChannels(), r.contextDim(), r.vecDim(), r.mlpHidden(), r.doubleBlocks(), r.singleBlocks(), true);
        assertEquals(11_901_408_320L, RandomCheckpoint.flux(dev, Layout.BFL, DType.BF16).stream().mapToLong(p -> p.spec().numel()).sum());
        assertEquals(11_901_408_320L - 10_229_760L, RandomCheckpoint.flux(r, Layout.DIFFUSERS, DType.BF16).stream().mapToLong(p -> p.spec().numel()).sum());

        T5Shape x = T5Shape.xxl();
        Map<String, TensorSpec> t = byName(RandomCheckpoint.t5(new T5Shape(x.dModel(), 1, x.heads(), x.dKv(), x.dFf(), x.vocab(), x.buckets(), 0),
                Layout.BFL, DType.F16));
        assertShape(t, "shared.weight", 32128, 4096);
        assertShape(t, "encoder.block.0.layer.0.SelfAttention.q.weight", 4096, 4096);
        assertShape(t, "encoder.block.0.layer.0.SelfAttention.o.weight", 4096, 4096);
        assertShape(t, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", 32, 64);
        assertShape(t, "encoder.block.0.layer.1.DenseReluDense.wi_0.weight", 10240, 4096);
        assertShape(t, "encoder.block.0.layer.1.DenseReluDense.wo.weight", 4096, 10240);
        assertEquals(new ModelKind.T5("", 4096, 1, 64, new ModelKind.Fp8(0, 0, false, 0, 0)), ModelKind.of(t.values()));
        assertEquals(4_762_310_656L, RandomCheckpoint.t5(x, Layout.BFL, DType.F16).stream().mapToLong(p -> p.spec().numel()).sum(),
                "T5-XXL encoder parameters (shared embedding counted once)");

        T5Shape d = T5Shape.distill();
        Map<String, TensorSpec> dt = byName(RandomCheckpoint.t5(d, Layout.DIFFUSERS, DType.BF16));
        assertShape(dt, "encoder.shared.weight", 32128, 768);
        assertShape(dt, "encoder.encoder.block.11.layer.0.SelfAttention.q.weight", 768, 768);
        assertShape(dt, "encoder.encoder.block.0.layer.1.DenseReluDense.wi_1.weight", 2048, 768);
        assertShape(dt, "final_projection.0.weight", 4096, 768);
        assertShape(dt, "final_projection.3.weight", 4096, 4096);
        assertEquals(new ModelKind.DistillT5("", "encoder.", 768, 12, 4096, new ModelKind.Fp8(0, 0, false, 0, 0)), ModelKind.of(dt.values()));

        Map<String, TensorSpec> c = byName(RandomCheckpoint.clip(ClipShape.large(), Layout.DIFFUSERS, DType.F16));
        assertShape(c, "text_model.embeddings.token_embedding.weight", 49408, 768);
        assertShape(c, "text_model.embeddings.position_embedding.weight", 77, 768);
        assertShape(c, "text_model.encoder.layers.11.mlp.fc1.weight", 3072, 768);
        assertShape(c, "text_model.encoder.layers.11.self_attn.out_proj.weight", 768, 768);
        assertEquals(123_060_480L, c.values().stream().mapToLong(TensorSpec::numel).sum(), "CLIP-L text model parameters");
        assertInstanceOf(ModelKind.ClipText.class, ModelKind.of(c.values()));

        Map<String, TensorSpec> v = byName(RandomCheckpoint.vae(VaeShape.flux(), Layout.BFL, DType.F32));
        assertShape(v, "encoder.conv_in.weight", 128, 3, 3, 3);
        assertShape(v, "encoder.down.2.block.0.nin_shortcut.weight", 512, 256, 1, 1);
        assertShape(v, "encoder.conv_out.weight", 32, 512, 3, 3);
        assertShape(v, "decoder.conv_in.weight", 512, 16, 3, 3);
        assertShape(v, "decoder.mid.attn_1.q.weight", 512, 512, 1, 1);
        assertShape(v, "decoder.up.0.block.2.conv2.weight", 128, 128, 3, 3);
        assertShape(v, "decoder.conv_out.weight", 3, 128, 3, 3);
        assertEquals(83_819_683L, v.values().stream().mapToLong(TensorSpec::numel).sum(), "FLUX.1 ae parameters");
        assertEquals(new ModelKind.Vae("", Layout.BFL, 128, 4, 16, new ModelKind.Fp8(0, 0, false, 0, 0)), ModelKind.of(v.values()));
    }

    static double[] meanStd(Tensor t) {
        double s = 0, s2 = 0;
        long n = t.numel();
        for (long i = 0; i < n; i++) {
            double x = t.get(i);
            assertTrue(Double.isFinite(x), t.name());
            s += x;
            s2 += x * x;
        }
        double mean = s / n;
        return new double[] {mean, Math.sqrt(s2 / n - mean * mean)};
    }

    @Test
    void valuesHaveSaneMagnitudes() throws IOException {
        Path f = dir.resolve("flux.safetensors");
        RandomCheckpoint.write(f, RandomCheckpoint.flux(new FluxShape(256, 64, 64, 64, 1024, 1, 1, true), Layout.BFL, DType.BF16), 1);
        try (Checkpoint ck = Checkpoint.open(f)) {
            assertInstanceOf(ModelKind.Flux.class, ModelKind.of(ck));
            for (Tensor t : ck.tensors().values()) {
                double[] ms = meanStd(t);
                if (t.rank() == 2) {
                    // Uniform with std 1/sqrt(fan_in); over >= 16k samples the estimate is within a few percent.
                    double want = 1 / Math.sqrt(t.cols());
                    assertEquals(want, ms[1], 0.05 * want, t.name());
                    assertEquals(0, ms[0], 0.05 * want, t.name());
                } else if (t.name().endsWith(".scale")) {
                    for (long i = 0; i < t.numel(); i++) assertEquals(1, t.get(i), 0.051, t.name());
                } else {
                    for (long i = 0; i < t.numel(); i++) assertEquals(0, t.get(i), 0.021, t.name());
                }
            }
        }
        Path clip = dir.resolve("clip.safetensors");
        RandomCheckpoint.write(clip, RandomCheckpoint.clip(new ClipShape(64, 1, 1, 256, 1000, 77), Layout.BFL, DType.F16), 1);
        try (Checkpoint ck = Checkpoint.open(clip)) {
            Tensor ids = ck.get("text_model.embeddings.position_ids").expectShape(1, 77);
            for (int i = 0; i < 77; i++) assertEquals(i, ids.getLong(i));
        }
    }

    @Test
    void fp8FilesHoldFp8MatricesAndBf16Vectors() throws IOException {
        Path f = dir.resolve("vae-fp8.safetensors");
        RandomCheckpoint.write(f, RandomCheckpoint.vae(new VaeShape(32, List.of(1, 2), 1, 16), Layout.DIFFUSERS, DType.F8_E4M3), 3);
        try (Checkpoint ck = Checkpoint.open(f)) {
            for (Tensor t : ck.tensors().values()) {
                assertEquals(t.rank() >= 2 ? DType.F8_E4M3 : DType.BF16, t.dtype(), t.name());
                meanStd(t);
            }
            assertTrue(ModelKind.of(ck).fp8().present());
        }
    }

    @Test
    void valuesArePureFunctionsOfTheSeed() throws IOException {
        List<Planned> plan = RandomCheckpoint.t5(new T5Shape(64, 1, 1, 64, 128, 20000, 32, 16), Layout.BFL, DType.BF16);
        Path a = dir.resolve("a.safetensors"), b = dir.resolve("b.safetensors"), c = dir.resolve("c.safetensors");
        RandomCheckpoint.write(a, plan, 42);
        RandomCheckpoint.write(b, plan, 42);
        RandomCheckpoint.write(c, plan, 43);
        assertEquals(-1, Files.mismatch(a, b));
        assertNotEquals(-1, Files.mismatch(a, c));
        try (Checkpoint ca = Checkpoint.open(a)) {
            // Distinct tensors of one shape get distinct values.
            Tensor q = ca.get("encoder.block.0.layer.0.SelfAttention.q.weight"), k = ca.get("encoder.block.0.layer.0.SelfAttention.k.weight");
            assertNotEquals(-1, q.data().mismatch(k.data()));
            assertInstanceOf(ModelKind.DistillT5.class, ModelKind.of(ca));
        }
    }
}
