package fluxj.io;

import fluxj.tensor.DType;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Tensor;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class CheckpointTest {
    @TempDir
    Path dir;

    @Test
    void shardedTransformerThroughIndexOrFolder() throws IOException {
        Path folder = Fixtures.model("flux1-tiny-schnell/transformer");
        try (Checkpoint byIndex = Checkpoint.open(folder.resolve("diffusion_pytorch_model.safetensors.index.json"));
             Checkpoint byFolder = Checkpoint.open(folder)) {
            assertEquals(3, byIndex.paths().size());
            assertEquals(byIndex.names(), byFolder.names());
            Map<String, Object> index = Json.readObject(folder.resolve("diffusion_pytorch_model.safetensors.index.json"));
            assertEquals(((Map<?, ?>) index.get("weight_map")).keySet(), byIndex.names());
            assertEquals(((Map<?, ?>) index.get("metadata")).get("total_size"),
                    byIndex.tensors().values().stream().mapToLong(t -> t.data().byteSize()).sum());
            // A block straddling two shards is still whole.
            assertEquals(1, byIndex.countIndexed("transformer_blocks."));
            assertEquals(2, byIndex.countIndexed("single_transformer_blocks."));
            Tensor w = byIndex.get("single_transformer_blocks.0.proj_out.weight").expectShape(128, 640);
            assertTrue(w.source().endsWith("diffusion_pytorch_model-00003-of-00003.safetensors"));
            assertEquals(Map.of("format", "pt"), byIndex.metadata());
        }
    }

    @Test
    void shardedT5() throws IOException {
        try (Checkpoint t5 = Checkpoint.open(Fixtures.model("flux1-tiny-schnell/text_encoder_2"))) {
            assertEquals(2, t5.paths().size());
            assertEquals(2, t5.countIndexed("encoder.block."));
            t5.get("shared.weight").expectShape(32128, 64);
        }
    }

    @Test
    void singleFileAndPrefixViews() throws IOException {
        try (Checkpoint clip = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/clip_l.safetensors"))) {
            assertEquals("text_model.", clip.detectPrefix("model.", "text_model."));
            Checkpoint view = clip.withPrefix("text_model.");
            assertEquals(clip.names().size(), view.names().size());
            assertSame(clip.get("text_model.final_layer_norm.weight").data(), view.get("final_layer_norm.weight").data());
            assertEquals(2, view.countIndexed("encoder.layers."));
            assertEquals(DType.I64, view.get("embeddings.position_ids").dtype());
            assertEquals(76, view.get("embeddings.position_ids").getLong(76));
            assertEquals("", clip.detectPrefix("model.diffusion_model."));
        }
    }

    @Test
    void missingTensorNamesCheckpointAndTensor() throws IOException {
        try (Checkpoint ae = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/ae.safetensors"))) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> ae.get("decoder.nonexistent.weight"));
            assertTrue(e.getMessage().contains("ae.safetensors") && e.getMessage().contains("'decoder.nonexistent.weight'"), e.getMessage());
            assertTrue(ae.find("decoder.nonexistent.weight").isEmpty());
            assertFalse(ae.has("encoder.down.0.block.0.conv1.weightx"));
        }
    }

    /** Two tiny shards a.safetensors (x) and b.safetensors (y), with an index whose weight_map is given. */
    Path shards(String weightMap) throws IOException {
        SafeTensorsWriter.write(dir.resolve("a.safetensors"), Map.of(), List.of(new TensorSpec("x", DType.F32, new long[] {2})),
                SafeTensorsWriterTest::fillPattern);
        SafeTensorsWriter.write(dir.resolve("b.safetensors"), Map.of(), List.of(new TensorSpec("y", DType.F32, new long[] {2})),
                SafeTensorsWriterTest::fillPattern);
        return Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"metadata\":{},\"weight_map\":" + weightMap + "}");
    }

    static void assertBad(Path p, String... fragments) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Checkpoint.open(p).close());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "'" + f + "' in: " + e.getMessage());
    }

    @Test
    void indexErrors() throws IOException {
        Path index = shards("{\"x\":\"a.safetensors\",\"y\":\"b.safetensors\"}");
        try (Checkpoint ok = Checkpoint.open(index)) {
            assertEquals(List.of("x", "y"), List.copyOf(ok.names()));
        }
        assertBad(shards("{\"x\":\"a.safetensors\",\"y\":\"a.safetensors\"}"), "model.safetensors.index.json", "'y'", "a.safetensors", "does not hold it");
        assertBad(shards("{\"x\":\"a.safetensors\",\"z\":\"b.safetensors\"}"), "'z'", "does not hold it");
        assertBad(shards("{\"x\":\"a.safetensors\",\"y\":\"c.safetensors\"}"), "c.safetensors", "does not exist");
        assertBad(shards("{\"x\":\"../a.safetensors\"}"), "'x'", "not a file name in the same folder");
        assertBad(shards("{\"x\":3}"), "'x'", "not a file name");
        assertBad(shards("{}"), "lists no tensors");
        assertBad(shards("[]"), "\"weight_map\"");
        Files.writeString(index, "{\"weight_map\":");
        assertBad(index, "not valid JSON");
        Files.write(index, new byte[] {'{', '"', (byte) 0xff, '"', ':', '1', '}'});
        assertBad(index, "UTF-8");
    }

    @Test
    void folderErrors() throws IOException {
        assertThrows(NoSuchFileException.class, () -> Checkpoint.open(dir.resolve("absent")));
        Files.createDirectories(dir.resolve("empty"));
        assertBad(dir.resolve("empty"), "holds no .safetensors file");
        shards("{\"x\":\"a.safetensors\",\"y\":\"b.safetensors\"}");
        Files.writeString(dir.resolve("other.safetensors.index.json"), "{}");
        assertBad(dir, "several *.safetensors.index.json");
    }

    @Test
    void folderOfShardsWithoutIndexAndDuplicateNames() throws IOException {
        shards("{}");
        Files.delete(dir.resolve("model.safetensors.index.json"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(List.of("x", "y"), List.copyOf(c.names()));
        }
        Files.copy(dir.resolve("a.safetensors"), dir.resolve("c.safetensors"));
        assertBad(dir, "'x'", "also appears in");
    }
}
