package fluxj.pipeline;

import fluxj.condition.ModelInput;
import fluxj.io.ModelKind.Layout;
import fluxj.io.TensorSpec;
import fluxj.tensor.DType;
import fluxj.tensor.ModelFormatException;
import fluxj.testing.Fixtures;
import fluxj.testing.ImageCases;
import fluxj.tools.RandomCheckpoint;
import fluxj.tools.RandomCheckpoint.FluxShape;
import fluxj.tools.RandomCheckpoint.Planned;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Fill (img_in 384) and Canny/Depth (128) transformers are told from their weights in every layout. */
class ModelInputDetectionTest {
    @TempDir
    Path dir;

    private static final Path SINGLE = Fixtures.model("flux1-tiny-schnell-single");

    /** A tiny dev transformer (the fixtures' sizes) whose img_in takes {@code in} channels. */
    private static List<Planned> transformer(int in, Layout layout) {
        return RandomCheckpoint.flux(new FluxShape(128, in, 64, 64, 512, 1, 2, true), layout, DType.BF16);
    }

    private ModelInput openSingle(Path file) throws IOException {
        ModelSource s = ModelSource.of(file.toString())
                .withParts(SINGLE.resolve("ae.safetensors"), SINGLE.resolve("clip_l.safetensors"), SINGLE.resolve("t5xxl_fp16.safetensors"),
                        Fixtures.model("flux1-tiny-schnell/tokenizer"), Fixtures.model("flux1-tiny-schnell/tokenizer_2"), null)
                .withHub(ImageCases.NO_HUB);
        try (FluxPipeline p = FluxPipeline.open(s, HubClient.Listener.NONE)) {
            return p.model().input();
        }
    }

    @Test
    void singleFilesInBflComfyAndDiffusersNames() throws IOException {
        for (int in : new int[]{384, 128, 64}) {
            ModelInput want = in == 384 ? ModelInput.FILL : in == 128 ? ModelInput.CONTROL : ModelInput.LATENT;
            Path bfl = dir.resolve("bfl-" + in + ".safetensors");
            RandomCheckpoint.write(bfl, transformer(in, Layout.BFL), 1);
            assertEquals(want, openSingle(bfl), "BFL names, img_in " + in);

            Path comfy = dir.resolve("comfy-" + in + ".safetensors");
            RandomCheckpoint.write(comfy, transformer(in, Layout.BFL).stream()
                    .map(p -> new Planned(new TensorSpec("model.diffusion_model." + p.spec().name(), p.spec().dtype(), p.spec().shape()), p.init())).toList(), 1);
            assertEquals(want, openSingle(comfy), "ComfyUI prefix, img_in " + in);

            Path diffusers = dir.resolve("diffusers-" + in + ".safetensors");
            RandomCheckpoint.write(diffusers, transformer(in, Layout.DIFFUSERS), 1);
            assertEquals(want, openSingle(diffusers), "diffusers names, img_in " + in);
        }
    }

    /** A diffusers folder: the fixture's parts, a Fill transformer with its config.json. */
    private Path diffusersFolder(String inChannelsInConfig) throws IOException {
        Path root = dir.resolve("fill-" + inChannelsInConfig), base = Fixtures.model("flux1-tiny-schnell");
        Files.createDirectories(root.resolve("transformer"));
        Files.copy(base.resolve("model_index.json"), root.resolve("model_index.json"));
        for (String part : List.of("vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler")) {
            Files.createSymbolicLink(root.resolve(part), base.resolve(part));
        }
        RandomCheckpoint.write(root.resolve("transformer/diffusion_pytorch_model.safetensors"), transformer(384, Layout.DIFFUSERS), 1);
        Files.writeString(root.resolve("transformer/config.json"), """
                {"_class_name": "FluxTransformer2DModel", "attention_head_dim": 128, "axes_dims_rope": [16, 56, 56],
                 "guidance_embeds": true, "in_channels": %s, "out_channels": 64, "joint_attention_dim": 64, "num_attention_heads": 1,
                 "num_layers": 1, "num_single_layers": 2, "patch_size": 1, "pooled_projection_dim": 64}
                """.formatted(inChannelsInConfig));
        return root;
    }

    @Test
    void diffusersFolderWithItsConfig() throws IOException {
        try (FluxPipeline p = FluxPipeline.open(ModelSource.of(diffusersFolder("384").toString()).withHub(ImageCases.NO_HUB), HubClient.Listener.NONE)) {
            assertEquals(ModelInput.FILL, p.model().input());
            assertTrue(p.model().guidanceEmbed());
        }
        // a config contradicting the weights is named
        var e = assertThrows(ModelFormatException.class,
                () -> FluxPipeline.open(ModelSource.of(diffusersFolder("64").toString()).withHub(ImageCases.NO_HUB), HubClient.Listener.NONE));
        assertTrue(e.getMessage().contains("in_channels"), e.getMessage());
    }

    @Test
    void unknownInputWidthsAreRefused() throws IOException {
        Path odd = dir.resolve("odd.safetensors");
        RandomCheckpoint.write(odd, transformer(96, Layout.BFL), 1);
        var e = assertThrows(ModelFormatException.class, () -> openSingle(odd));
        assertTrue(e.getMessage().contains("img_in takes 96"), e.getMessage());
    }
}
