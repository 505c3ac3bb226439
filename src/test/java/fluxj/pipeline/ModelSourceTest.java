package fluxj.pipeline;

import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelSourceTest {
    @TempDir
    Path tmp;

    private HubClient.Config offline(Path cache) {
        return new HubClient.Config(URI.create("http://127.0.0.1:9"), cache, null, true, Duration.ofSeconds(1));
    }

    @Test
    void diffusersFolderFindsEveryPartAndItsConfig() throws IOException {
        Path d = Fixtures.model("flux1-tiny-schnell");
        ModelFiles f = ModelSource.of(d.toString()).withHub(offline(tmp)).resolve(HubClient.Listener.NONE);
        assertEquals("flux1-tiny-schnell", f.name());
        assertEquals(d.resolve("transformer"), f.transformer());
        assertEquals(128L, f.transformerConfig().get("attention_head_dim"));
        assertEquals(d.resolve("text_encoder_2"), f.t5());
        assertEquals(d.resolve("scheduler/scheduler_config.json"), f.schedulerConfig());
        assertEquals(3, f.transformerFiles().size());
    }

    @Test
    void repoIdIsFoundInTheHuggingFaceCacheWithoutNetwork() throws IOException {
        // a cache as huggingface_hub leaves it: refs/main -> snapshots/<commit>/... (links to the fixture files)
        Path repo = tmp.resolve("models--black-forest-labs--FLUX.1-schnell");
        String sha = "a".repeat(40);
        Path snap = Files.createDirectories(repo.resolve("snapshots").resolve(sha));
        Path src = Fixtures.model("flux1-tiny-schnell");
        for (String part : new String[]{"model_index.json", "transformer", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler"}) {
            Files.createSymbolicLink(snap.resolve(part), src.resolve(part));
        }
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), sha);
        ModelFiles f = new ModelSource(null, null, null, null, null, null, null, offline(tmp)).resolve(HubClient.Listener.NONE);
        assertEquals(ModelSource.DEFAULT_REPO, f.name());
        assertEquals(snap.resolve("vae"), f.vae());
    }

    @Test
    void incompleteCacheOfflineSaysWhatToDo() {
        var e = assertThrows(HubClient.HubException.class, () -> ModelSource.of("someone/flux-model").withHub(offline(tmp)).resolve(HubClient.Listener.NONE));
        assertTrue(e.getMessage().contains("--model"), e.getMessage());
    }

    @Test
    void sidecarConfigReachesEachPart() throws IOException {
        Path single = Fixtures.model("flux1-tiny-schnell-single");
        Path cfg = tmp.resolve("sizes.json");
        Files.writeString(cfg, "{\"flux_params\": {\"hidden_size\": 128}, \"t5_config\": {\"d_model\": 64}}");
        ModelFiles f = ModelSource.of(single.resolve("flux1-schnell.safetensors").toString())
                .withParts(null, null, null, tmp, tmp, cfg).withHub(offline(tmp)).resolve(HubClient.Listener.NONE);
        assertEquals(128L, f.transformerConfig().get("hidden_size"));
        assertEquals(64L, f.t5Config().get("d_model"));
        assertNull(f.vaeConfig());
        assertNotNull(f.clip());
    }

    @Test
    void badSidecarAndMissingPartsAreNamed() throws IOException {
        Path single = Fixtures.model("flux1-tiny-schnell-single");
        Path cfg = tmp.resolve("c.json");
        Files.writeString(cfg, "{\"something\": 1}");
        var e = assertThrows(fluxj.tensor.ModelFormatException.class, () -> ModelSource.of(single.resolve("flux1-schnell.safetensors").toString())
                .withParts(null, null, null, tmp, tmp, cfg).withHub(offline(tmp)).resolve(HubClient.Listener.NONE));
        assertTrue(e.getMessage().contains("flux_params"), e.getMessage());
        var missing = assertThrows(NoSuchFileException.class, () -> ModelSource.of(single.resolve("flux1-schnell.safetensors").toString())
                .withParts(tmp.resolve("vae.safetensors"), null, null, tmp, tmp, null).withHub(offline(tmp)).resolve(HubClient.Listener.NONE));
        assertTrue(missing.getMessage().contains("vae.safetensors"), missing.getMessage());
    }

    @Test
    void partsWithUnusualNamesAreRecognisedByTheirTensors() throws IOException {
        Path single = Fixtures.model("flux1-tiny-schnell-single");
        Files.createSymbolicLink(tmp.resolve("my-flux.safetensors"), single.resolve("flux1-schnell.safetensors"));
        Files.createSymbolicLink(tmp.resolve("decoder-weights.safetensors"), single.resolve("ae.safetensors"));
        Files.createSymbolicLink(tmp.resolve("text-a.safetensors"), single.resolve("clip_l.safetensors"));
        Files.createSymbolicLink(tmp.resolve("text-b.safetensors"), single.resolve("t5xxl_fp16.safetensors"));
        ModelFiles f = ModelSource.of(tmp.resolve("my-flux.safetensors").toString())
                .withParts(null, null, null, tmp, tmp, null).withHub(offline(tmp)).resolve(HubClient.Listener.NONE);
        assertEquals(tmp.resolve("decoder-weights.safetensors"), f.vae());
        assertEquals(tmp.resolve("text-a.safetensors"), f.clip());
        assertEquals(tmp.resolve("text-b.safetensors"), f.t5());
    }

    @Test
    void repoIdsAreTellable() {
        assertTrue(ModelSource.looksLikeRepoId("black-forest-labs/FLUX.1-dev"));
        assertTrue(!ModelSource.looksLikeRepoId("models/flux.safetensors") && !ModelSource.looksLikeRepoId("/abs/path"));
    }

    @Test
    void onlyPipelineFilesAreDownloaded() {
        assertTrue(ModelSource.neededFromRepo("transformer/diffusion_pytorch_model-00001-of-00003.safetensors"));
        assertTrue(ModelSource.neededFromRepo("tokenizer_2/spiece.model"));
        assertTrue(!ModelSource.neededFromRepo("flux1-schnell.safetensors") && !ModelSource.neededFromRepo("ae.safetensors")
                && !ModelSource.neededFromRepo("README.md") && !ModelSource.neededFromRepo("schnell_grid.jpeg"));
    }
}
