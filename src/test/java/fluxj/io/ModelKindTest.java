package fluxj.io;

import fluxj.tensor.DType;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ModelKindTest {
    static ModelKind kindOf(Path p) throws IOException {
        try (Checkpoint ck = Checkpoint.open(p)) {
            return ModelKind.of(ck);
        }
    }

    static List<TensorSpec> specsOf(Path p) throws IOException {
        try (Checkpoint ck = Checkpoint.open(p)) {
            return ck.tensors().values().stream().map(TensorSpec::of).toList();
        }
    }

    static List<TensorSpec> prefixed(String prefix, List<TensorSpec> specs) {
        return specs.stream().map(s -> new TensorSpec(prefix + s.name(), s.dtype(), s.shape())).toList();
    }

    static List<TensorSpec> plus(List<TensorSpec> specs, TensorSpec... more) {
        List<TensorSpec> l = new ArrayList<>(specs);
        l.addAll(List.of(more));
        return l;
    }

    @Test
    void recognisesEveryFixture() throws IOException {
        Path single = Fixtures.model("flux1-tiny-schnell-single"), diffusers = Fixtures.model("flux1-tiny-schnell");
        assertEquals(new ModelKind.Flux("", ModelKind.Layout.BFL, false, 64, 128, 1, 2, new ModelKind.Fp8(0, 0, false, 0, 0)),
                kindOf(single.resolve("flux1-schnell.safetensors")));
        ModelKind.Flux fp8 = assertInstanceOf(ModelKind.Flux.class, kindOf(single.resolve("flux1-schnell-fp8-e4m3fn.safetensors")));
        assertEquals(24, fp8.fp8().e4m3());
        assertTrue(fp8.fp8().present());
        assertEquals(new ModelKind.Flux("", ModelKind.Layout.DIFFUSERS, false, 64, 128, 1, 2, new ModelKind.Fp8(0, 0, false, 0, 0)),
                kindOf(diffusers.resolve("transformer")));
        assertEquals(new ModelKind.Vae("", ModelKind.Layout.BFL, 32, 4, 16, new ModelKind.Fp8(0, 0, false, 0, 0)), kindOf(single.resolve("ae.safetensors")));
        assertEquals(new ModelKind.Vae("", ModelKind.Layout.DIFFUSERS, 32, 4, 16, new ModelKind.Fp8(0, 0, false, 0, 0)), kindOf(diffusers.resolve("vae")));
        assertEquals(new ModelKind.ClipText("text_model.", 64, 2, 49408, new ModelKind.Fp8(0, 0, false, 0, 0)), kindOf(single.resolve("clip_l.safetensors")));
        assertInstanceOf(ModelKind.ClipText.class, kindOf(diffusers.resolve("text_encoder")));
        assertEquals(new ModelKind.T5("", 64, 2, 2, new ModelKind.Fp8(0, 0, false, 0, 0)), kindOf(single.resolve("t5xxl_fp16.safetensors")));
        assertEquals(kindOf(single.resolve("t5xxl_fp16.safetensors")), kindOf(diffusers.resolve("text_encoder_2")));
        assertFalse(kindOf(single.resolve("flux1-schnell.safetensors")).fp8().present());
    }

    @Test
    void prefixesAndVariants() throws IOException {
        List<TensorSpec> flux = specsOf(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell.safetensors"));
        ModelKind comfy = ModelKind.of(prefixed("model.diffusion_model.", flux));
        assertEquals("model.diffusion_model.", comfy.prefix());
        assertTrue(comfy.describe().contains("names prefixed 'model.diffusion_model.'"), comfy.describe());

        List<TensorSpec> dev = plus(flux, new TensorSpec("guidance_in.in_layer.weight", DType.BF16, new long[] {128, 256}),
                new TensorSpec("guidance_in.out_layer.weight", DType.BF16, new long[] {128, 128}));
        ModelKind.Flux d = assertInstanceOf(ModelKind.Flux.class, ModelKind.of(dev));
        assertTrue(d.guidance());
        assertTrue(d.describe().contains("dev-type"), d.describe());

        for (int width : new int[] {128, 384}) {
            List<TensorSpec> wide = flux.stream().map(s -> s.name().equals("img_in.weight")
                    ? new TensorSpec(s.name(), s.dtype(), new long[] {128, width}) : s).toList();
            ModelKind.Flux f = assertInstanceOf(ModelKind.Flux.class, ModelKind.of(wide));
            assertEquals(width == 128 ? "Canny/Depth control" : "Fill (inpainting)", f.task());
        }

        List<TensorSpec> ae = specsOf(Fixtures.model("flux1-tiny-schnell-single/ae.safetensors"));
        assertEquals("first_stage_model.", ModelKind.of(prefixed("first_stage_model.", ae)).prefix());
        assertEquals("vae.", ModelKind.of(prefixed("vae.", ae)).prefix());
        List<TensorSpec> decoderOnly = ae.stream().filter(s -> s.name().startsWith("decoder.")).toList();
        assertEquals(new ModelKind.Vae("", ModelKind.Layout.BFL, 32, 4, 16, new ModelKind.Fp8(0, 0, false, 0, 0)), ModelKind.of(decoderOnly));

        List<TensorSpec> clip = specsOf(Fixtures.model("flux1-tiny-schnell-single/clip_l.safetensors"));
        List<TensorSpec> bare = clip.stream().map(s -> new TensorSpec(s.name().substring("text_model.".length()), s.dtype(), s.shape())).toList();
        assertEquals("", ModelKind.of(bare).prefix());
        assertInstanceOf(ModelKind.ClipText.class, ModelKind.of(bare));
    }

    @Test
    void distillT5InBothNamings() throws IOException {
        List<TensorSpec> t5 = specsOf(Fixtures.model("flux1-tiny-schnell-single/t5xxl_fp16.safetensors"));
        TensorSpec p0 = new TensorSpec("final_projection.0.weight", DType.BF16, new long[] {4096, 64});
        TensorSpec p3 = new TensorSpec("final_projection.3.weight", DType.BF16, new long[] {4096, 4096});
        assertEquals(new ModelKind.DistillT5("", "", 64, 2, 4096, new ModelKind.Fp8(0, 0, false, 0, 0)), ModelKind.of(plus(t5, p0, p3)));
        assertEquals(new ModelKind.DistillT5("", "encoder.", 64, 2, 4096, new ModelKind.Fp8(0, 0, false, 0, 0)),
                ModelKind.of(plus(prefixed("encoder.", t5), p0, p3)), "Hugging Face class names: encoder.encoder.block...");
    }

    @Test
    void fp8Markers() throws IOException {
        List<TensorSpec> flux = specsOf(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell.safetensors"));
        ModelKind.Fp8 scaled = ModelKind.of(plus(flux, new TensorSpec("scaled_fp8", DType.F8_E4M3, new long[] {0}),
                new TensorSpec("img_in.scale_weight", DType.F32, new long[] {}))).fp8();
        assertEquals(new ModelKind.Fp8(1, 0, true, 1, 0), scaled);
        assertEquals("yes (1 F8_E4M3 tensors, scaled_fp8 marker, 1 scale tensors)", scaled.toString());
        assertEquals(new ModelKind.Fp8(0, 0, false, 1, 1), ModelKind.of(plus(flux, new TensorSpec("img_in.comfy_quant", DType.U8, new long[] {10}),
                new TensorSpec("img_in.weight_scale", DType.F32, new long[] {}))).fp8());
        List<TensorSpec> e5m2 = flux.stream().map(s -> s.rank() == 2 ? new TensorSpec(s.name(), DType.F8_E5M2, s.shape()) : s).toList();
        assertEquals(24, ModelKind.of(e5m2).fp8().e5m2());
        assertEquals("no", ModelKind.of(flux).fp8().toString());
    }

    @Test
    void bundlesAndUnknowns() throws IOException {
        List<TensorSpec> all = new ArrayList<>(prefixed("model.diffusion_model.", specsOf(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell.safetensors"))));
        all.addAll(prefixed("first_stage_model.", specsOf(Fixtures.model("flux1-tiny-schnell-single/ae.safetensors"))));
        all.addAll(prefixed("text_encoders.clip_l.transformer.", specsOf(Fixtures.model("flux1-tiny-schnell-single/clip_l.safetensors"))));
        all.addAll(prefixed("text_encoders.t5xxl.transformer.", specsOf(Fixtures.model("flux1-tiny-schnell-single/t5xxl_fp16.safetensors"))));
        ModelKind.Bundle b = assertInstanceOf(ModelKind.Bundle.class, ModelKind.of(all));
        assertEquals(List.of("model.diffusion_model.", "first_stage_model.", "text_encoders.clip_l.transformer.text_model.", "text_encoders.t5xxl.transformer."),
                b.parts().stream().map(ModelKind::prefix).toList());

        ModelKind.Unknown lora = assertInstanceOf(ModelKind.Unknown.class, ModelKind.of(List.of(
                new TensorSpec("lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight", DType.BF16, new long[] {16, 3072}),
                new TensorSpec("lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight", DType.BF16, new long[] {9216, 16}))));
        assertTrue(lora.describe().contains("LoRA"), lora.describe());
        ModelKind.Unknown unet = assertInstanceOf(ModelKind.Unknown.class, ModelKind.of(List.of(
                new TensorSpec("model.diffusion_model.input_blocks.0.0.weight", DType.F16, new long[] {320, 4, 3, 3}),
                new TensorSpec("model.diffusion_model.middle_block.0.in_layers.0.weight", DType.F16, new long[] {1280}))));
        assertTrue(unet.describe().contains("UNet") && unet.describe().contains("model (2)"), unet.describe());
        assertEquals("unknown: no tensors", ModelKind.of(List.of()).describe());
    }
}
