package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.io.Json;
import fluxj.io.ModelKind;
import fluxj.tensor.DType;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Tensor;
import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import fluxj.tools.RandomCheckpoint;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Name mapping between layouts, prefixes, config maps and the errors for files that are not (usable) VAEs. */
class VaeLayoutTest {
    static Checkpoint single, diffusers;

    @BeforeAll
    static void open() throws Exception {
        single = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/ae.safetensors"));
        diffusers = Checkpoint.open(Fixtures.model("flux1-tiny-schnell/vae"));
    }

    @AfterAll
    static void close() {
        if (single != null) single.close();
        if (diffusers != null) diffusers.close();
    }

    @Test
    void diffusersNamesMapToBfl() {
        assertEquals("decoder.up.3.block.2.conv1.weight", VaeLayout.bflName("decoder.up_blocks.0.resnets.2.conv1.weight", 4));
        assertEquals("decoder.up.0.block.0.nin_shortcut.bias", VaeLayout.bflName("decoder.up_blocks.3.resnets.0.conv_shortcut.bias", 4));
        assertEquals("decoder.up.2.upsample.conv.weight", VaeLayout.bflName("decoder.up_blocks.1.upsamplers.0.conv.weight", 4));
        assertEquals("encoder.down.1.block.0.norm2.weight", VaeLayout.bflName("encoder.down_blocks.1.resnets.0.norm2.weight", 4));
        assertEquals("encoder.down.0.downsample.conv.bias", VaeLayout.bflName("encoder.down_blocks.0.downsamplers.0.conv.bias", 4));
        assertEquals("encoder.mid.block_2.conv1.weight", VaeLayout.bflName("encoder.mid_block.resnets.1.conv1.weight", 4));
        assertEquals("decoder.mid.attn_1.proj_out.weight", VaeLayout.bflName("decoder.mid_block.attentions.0.to_out.0.weight", 4));
        assertEquals("decoder.mid.attn_1.norm.bias", VaeLayout.bflName("decoder.mid_block.attentions.0.group_norm.bias", 4));
        assertEquals("encoder.mid.attn_1.q.weight", VaeLayout.bflName("encoder.mid_block.attentions.0.query.weight", 4));
        assertEquals("decoder.norm_out.weight", VaeLayout.bflName("decoder.conv_norm_out.weight", 4));
    }

    @Test
    void diffusersFolderHoldsExactlyTheBflTensors() {
        Checkpoint mapped = VaeLayout.toBfl(diffusers);
        assertEquals(single.names(), mapped.names());
        for (String n : single.names()) {
            Tensor a = single.get(n), b = mapped.get(n);
            assertEquals(a.numel(), b.numel(), n);
            // The diffusers linears [C, C] are the BFL 1x1 convolutions [C, C, 1, 1].
            assertEquals(a.rows(), b.rows(), n);
            assertEquals(a.get(a.numel() - 1), b.get(b.numel() - 1), n);
        }
    }

    @Test
    void comfyUiPrefixesAreStripped() {
        Npy z = Npy.read(Fixtures.caseDir("p02_schnell_single_bf16").resolve("final_latent.npy"));
        float[] want = AutoEncoder.load(single, null).decode(z.floats(), 8, 8);
        for (var entry : Map.of("first_stage_model.", single, "vae.", diffusers).entrySet()) {
            Map<String, Tensor> bundled = new LinkedHashMap<>();
            entry.getValue().tensors().forEach((k, v) -> bundled.put(entry.getKey() + k, v));
            bundled.put("model.diffusion_model.img_in.weight", single.get("decoder.conv_in.bias"));
            AutoEncoder ae = AutoEncoder.load(Checkpoint.of("bundle", bundled), null);
            double d = Npy.maxAbsDiff(want, ae.decode(z.floats(), 8, 8));
            // Same values; only vector reduction order may differ between interpreted and compiled runs (few ulps
            // per layer, 1.8e-6 measured at the output), far below the 6e-6 either is from the reference.
            assertTrue(d < 1e-5, entry.getKey() + " " + d);
        }
    }

    @Test
    void otherModelsAreNamed() throws Exception {
        try (Checkpoint flux = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell.safetensors"));
             Checkpoint clip = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/clip_l.safetensors"));
             Checkpoint t5 = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/t5xxl_fp16.safetensors"))) {
            assertTrue(assertThrows(ModelFormatException.class, () -> AutoEncoder.load(flux, null)).getMessage().contains("not a VAE: no decoder.conv_in.weight"));
            assertTrue(assertThrows(ModelFormatException.class, () -> AutoEncoder.load(flux, null)).getMessage().contains("FLUX.1 transformer"));
            assertTrue(assertThrows(ModelFormatException.class, () -> AutoEncoder.load(clip, null)).getMessage().contains("CLIP text encoder"));
            assertTrue(assertThrows(ModelFormatException.class, () -> AutoEncoder.load(t5, null)).getMessage().contains("T5 encoder"));
        }
    }

    @Test
    void configMapsConfirmTheTensors() throws Exception {
        VaeConfig inferred = AutoEncoder.load(single, null).config();
        Map<String, Object> sidecar = Json.readObject(Fixtures.model("flux1-tiny-schnell-single/sizes.json"));
        assertEquals(inferred, AutoEncoder.load(single, sidecar).config());
        @SuppressWarnings("unchecked") Map<String, Object> ae = (Map<String, Object>) sidecar.get("ae_params");
        assertEquals(inferred, AutoEncoder.load(single, ae).config());

        Map<String, Object> wrong = new LinkedHashMap<>(ae);
        wrong.put("ch_mult", List.of(1L, 2L, 4L, 4L));
        String msg = assertThrows(ModelFormatException.class, () -> AutoEncoder.load(single, wrong)).getMessage();
        assertTrue(msg.contains("ch_mult") && msg.contains("[1, 2, 2, 2]"), msg);

        Map<String, Object> diff = Json.readObject(Fixtures.model("flux1-tiny-schnell/vae/config.json"));
        diff.put("latent_channels", 4L);
        assertThrows(ModelFormatException.class, () -> AutoEncoder.load(diffusers, diff));
        Map<String, Object> sd = Json.readObject(Fixtures.model("flux1-tiny-schnell/vae/config.json"));
        sd.put("scaling_factor", 0.18215);
        sd.put("shift_factor", null);
        VaeConfig c = AutoEncoder.load(diffusers, sd).config();
        assertEquals(0.18215f, c.scaleFactor());
        assertEquals(0f, c.shiftFactor());
    }

    @Test
    void brokenCheckpointsNameTheTensor() {
        Map<String, Tensor> t = new LinkedHashMap<>(single.tensors());
        t.remove("decoder.up.1.block.2.conv2.weight");
        String msg = assertThrows(ModelFormatException.class, () -> AutoEncoder.load(Checkpoint.of("broken.safetensors", t), null)).getMessage();
        assertTrue(msg.contains("broken.safetensors") && msg.contains("decoder.up.1.block.2.conv2.weight"), msg);

        Map<String, Tensor> s = new LinkedHashMap<>(single.tensors());
        s.put("decoder.mid.block_1.conv1.weight", single.get("decoder.mid.block_1.conv2.bias"));
        msg = assertThrows(ModelFormatException.class, () -> AutoEncoder.load(Checkpoint.of("shapes.safetensors", s), null)).getMessage();
        assertTrue(msg.contains("decoder.mid.block_1.conv2.bias") && msg.contains("expected a float [64, 64, 3, 3]"), msg);
    }

    @Test
    void otherSizesAreReadFromTheTensors(@TempDir Path dir) throws Exception {
        // Two levels, one ResNet block per level, 4 latent channels, in both layouts (io's random checkpoints).
        RandomCheckpoint.VaeShape shape = new RandomCheckpoint.VaeShape(32, List.of(1, 2), 1, 4);
        for (ModelKind.Layout layout : ModelKind.Layout.values()) {
            Path file = dir.resolve(layout + ".safetensors");
            RandomCheckpoint.write(file, RandomCheckpoint.vae(shape, layout, DType.BF16), 5);
            try (Checkpoint ck = Checkpoint.open(file)) {
                AutoEncoder ae = AutoEncoder.load(ck, null);
                VaeConfig c = ae.config();
                assertEquals(32, c.ch(), layout.toString());
                assertArrayEquals(new int[]{1, 2}, c.chMult());
                assertEquals(1, c.numResBlocks());
                assertEquals(4, ae.latentChannels());
                assertEquals(2, c.factor());
                float[] z = ae.encode(new float[3 * 8 * 6], 8, 6);
                assertEquals(4 * 4 * 3, z.length);
                float[] img = ae.decode(z, 4, 3);
                assertEquals(3 * 8 * 6, img.length);
                for (float v : img) assertTrue(Float.isFinite(v));
            }
        }
    }

    @Test
    void decoderOnlyCheckpointsDecodeButDoNotEncode() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        single.tensors().forEach((k, v) -> { if (k.startsWith("decoder.")) t.put(k, v); });
        AutoEncoder ae = AutoEncoder.load(Checkpoint.of("decoder-only", t), null);
        assertEquals(16, ae.latentChannels());
        assertEquals(3 * 64 * 64, ae.decode(new float[16 * 8 * 8], 8, 8).length);
        assertThrows(ModelFormatException.class, () -> ae.encode(new float[3 * 64 * 64], 64, 64));
        assertArrayEquals(new int[]{1, 2, 2, 2}, ae.config().chMult());
    }
}
