package fluxj.cli;

import fluxj.testing.Cli;

import fluxj.io.Checkpoint;
import fluxj.io.ModelKind;
import fluxj.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class DevCommandTest {
    @TempDir
    Path dir;

    @Test
    void makeRandomWritesARecognisedFile() throws IOException {
        Path out = dir.resolve("dev.safetensors");
        Cli.Run r = Cli.run("dev", "make-random", "--kind", "flux", "--double", "2", "--single", "1",
                "--hidden", "128", "--context", "64", "--vec", "32", "--guidance", "--layout", "diffusers", "--dtype", "fp8", "--seed", "9",
                "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("wrote " + out + ": "), r.out());
        try (Checkpoint ck = Checkpoint.open(out)) {
            ModelKind.Flux f = assertInstanceOf(ModelKind.Flux.class, ModelKind.of(ck));
            assertEquals(new ModelKind.Flux("", ModelKind.Layout.DIFFUSERS, true, 64, 128, 2, 1, f.fp8()), f);
            assertTrue(f.fp8().present());
            ck.get("context_embedder.weight").expectShape(128, 64);
            ck.get("time_text_embed.text_embedder.linear_1.weight").expectShape(128, 32);
            assertEquals(DType.BF16, ck.get("context_embedder.bias").dtype());
        }
    }

    @Test
    void everyKindWithTinySizes() throws IOException {
        String[][] cases = {
                {"t5xxl", "--hidden", "64", "--layers", "1", "--vocab", "100"},
                {"distillt5", "--hidden", "64", "--layers", "1", "--vocab", "100", "--project-out", "96"},
                {"clip-l", "--hidden", "64", "--layers", "1", "--vocab", "100"},
                {"vae", "--hidden", "32", "--ch-mult", "1,2"}};
        for (String[] c : cases) {
            Path out = dir.resolve(c[0] + ".safetensors");
            String[] args = new String[c.length + 5];
            args[0] = "dev";
            args[1] = "make-random";
            args[2] = "--kind";
            System.arraycopy(c, 0, args, 3, c.length);
            args[c.length + 3] = "--out";
            args[c.length + 4] = out.toString();
            Cli.Run r = Cli.run(args);
            assertEquals(0, r.code(), r.err());
            Cli.Run i = Cli.run("inspect", "--summary", out.toString());
            String want = switch (c[0]) {
                case "t5xxl" -> "kind:       T5 encoder, d_model 64, 1 blocks, 1 head";
                case "distillt5" -> "kind:       DistillT5 (T5 encoder + final_projection to 96), d_model 64, 1 blocks";
                case "clip-l" -> "kind:       CLIP text encoder, width 64, 1 layers, vocabulary 100";
                default -> "kind:       FLUX.1 autoencoder (VAE), BFL names, ch 32, 2 levels, 16 latent channels";
            };
            assertTrue(i.out().contains(want), i.out());
        }
        assertTrue(Files.size(dir.resolve("vae.safetensors")) > 0);
    }

    @Test
    void badOptionsAreUsageErrors() {
        assertEquals(2, Cli.run("dev", "make-random", "--kind", "sdxl", "--out", dir.resolve("x").toString()).code());
        assertEquals(2, Cli.run("dev", "make-random", "--kind", "flux", "--hidden", "100", "--out", dir.resolve("x").toString()).code());
        assertEquals(2, Cli.run("dev", "make-random", "--kind", "flux").code(), "--out is required");
        Cli.Run r = Cli.run("dev", "make-random", "--kind", "vae", "--double", "2", "--out", dir.resolve("x").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--double does not apply to --kind vae"), r.err());
        assertFalse(Files.exists(dir.resolve("x")));
    }
}
