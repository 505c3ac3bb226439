package fluxj.cli;

import fluxj.testing.Cli;
import fluxj.testing.Cli.Run;

import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class InspectCommandTest {
    @TempDir
    Path dir;

    @Test
    void everyFixtureFileAndFolder() throws IOException {
        Path models = Fixtures.root().resolve("models");
        try (Stream<Path> s = Files.walk(models)) {
            // model weights only: not LoRA adapters, nor the GGUF decoding test vectors
            for (Path p : s.filter(p -> (p.toString().endsWith(".safetensors") || p.toString().endsWith(".safetensors.index.json"))
                    && !p.toString().endsWith(".expected.safetensors") && !p.getParent().getFileName().toString().contains("lora")).toList()) {
                Run r = Cli.run("inspect", "--summary", p.toString());
                assertEquals(0, r.code(), p + ": " + r.err());
                boolean shard = p.getFileName().toString().matches(".*-0000\\d-of-0000\\d\\.safetensors");
                assertEquals(shard, r.out().contains("shard:      one shard of " + p.getParent().toAbsolutePath()), r.out());
                if (!shard) assertFalse(r.out().contains("kind:       unknown"), r.out());
                assertTrue(r.out().contains("metadata:   {\"format\":\"pt\"}"), r.out());
            }
        }
    }

    @Test
    void singleFileListsEveryTensor() {
        Run r = Cli.run("inspect", Fixtures.model("flux1-tiny-schnell-single/flux1-schnell-fp8-e4m3fn.safetensors").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("kind:       FLUX.1 transformer, schnell-type"), r.out());
        assertTrue(r.out().contains("fp8:        yes (24 F8_E4M3 tensors)"), r.out());
        assertTrue(r.out().contains("parameters: 1,221,184 in 56 tensors"), r.out());
        assertTrue(r.out().contains("bytes:      BF16 17,536 bytes (17.1 KiB), F8_E4M3 1,212,416 bytes (1.2 MiB)"), r.out());
        assertTrue(r.out().matches("(?s).*\\n  double_blocks\\.0\\.img_attn\\.qkv\\.weight +F8_E4M3 +\\[384, 128]\\n.*"), r.out());
        assertEquals(56, r.out().lines().filter(l -> l.startsWith("  ")).count());
    }

    @Test
    void diffusersFolderInspectsEachComponent() {
        Run r = Cli.run("inspect", "--summary", Fixtures.model("flux1-tiny-schnell").toString());
        assertEquals(0, r.code(), r.err());
        String o = r.out();
        assertTrue(o.contains("(FluxPipeline)"), o);
        assertTrue(o.contains("== transformer [diffusers, FluxTransformer2DModel]"), o);
        assertTrue(o.contains("(3 files,"), o);
        assertTrue(o.contains("FLUX.1 transformer, schnell-type (no guidance embedder), text-to-image (img_in 64 wide), diffusers names"), o);
        assertTrue(o.contains("FLUX.1 autoencoder (VAE), diffusers names"), o);
        assertTrue(o.contains("CLIP text encoder, width 64"), o);
        assertTrue(o.contains("T5 encoder, d_model 64, 2 blocks, 2 heads"), o);
        assertTrue(o.contains("== tokenizer: no weights"), o);
        assertEquals(0, o.lines().filter(l -> l.startsWith("  ")).count(), "--summary lists no tensors");
    }

    @Test
    void badFilesGiveOneLineAndExitOne() throws IOException {
        Path truncated = dir.resolve("cut.safetensors");
        byte[] real = Files.readAllBytes(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell.safetensors"));
        Files.write(truncated, Arrays.copyOf(real, real.length - 100));
        Path junk = Files.writeString(dir.resolve("junk.safetensors"), "this is not a model file at all");
        Path badIndex = Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"weight_map\":{\"x\":\"gone.safetensors\"}}");
        for (Path p : new Path[] {truncated, junk, badIndex, dir.resolve("absent.safetensors")}) {
            Run r = Cli.run("inspect", p.toString());
            assertEquals(1, r.code(), p + ": " + r.out() + r.err());
            assertEquals(1, r.err().lines().count(), r.err());
            assertTrue(r.err().startsWith("fluxj: " + p), r.err());
        }
        assertEquals(2, Cli.run("inspect").code(), "missing PATH is a usage error");
    }
}
