package fluxj.cli;

import fluxj.testing.Cli;
import fluxj.testing.Cli.Run;

import fluxj.io.Json;
import fluxj.pipeline.Infotext;
import fluxj.pipeline.PngFiles;
import fluxj.pipeline.RgbImage;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code fluxj generate} and {@code fluxj info} driven through Main, on the public fixture cases. */
class GenerateCommandTest {
    @TempDir
    Path dir;

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> cases() throws IOException {
        return (List<Map<String, Object>>) Json.readObject(Fixtures.root().resolve("cases.json")).get("cases");
    }

    /** The generate arguments for a fixture case, as the outside checks pass them. */
    @SuppressWarnings("unchecked")
    static List<String> caseArgs(Map<String, Object> c, Path output) {
        Path root = Fixtures.root();
        Map<String, Object> m = (Map<String, Object>) c.get("model");
        List<String> a = new ArrayList<>(List.of("generate", "--prompt", (String) c.get("prompt")));
        if ("diffusers".equals(m.get("layout"))) {
            a.addAll(List.of("--model", root.resolve((String) m.get("path")).toString()));
        } else {
            a.addAll(List.of("--model", root.resolve((String) m.get("transformer")).toString(),
                    "--vae", root.resolve((String) m.get("ae")).toString(),
                    "--clip-l", root.resolve((String) m.get("clip_l")).toString(),
                    "--t5", root.resolve((String) m.get("t5xxl")).toString(),
                    "--clip-tokenizer", root.resolve((String) m.get("clip_tokenizer")).toString(),
                    "--t5-tokenizer", root.resolve((String) m.get("t5_tokenizer")).toString()));
        }
        if (m.get("config") != null) a.addAll(List.of("--config", root.resolve((String) m.get("config")).toString()));
        a.addAll(List.of("--width", str(c.get("width")), "--height", str(c.get("height")), "--steps", str(c.get("steps")),
                "--seed", str(c.get("seed")), "--guidance", str(c.get("guidance")), "--output", output.toString(), "--quiet"));
        if (c.get("negative_prompt") != null) a.addAll(List.of("--negative-prompt", (String) c.get("negative_prompt")));
        if (c.get("cfg_scale") != null) a.addAll(List.of("--cfg-scale", str(c.get("cfg_scale"))));
        if (c.get("guidance_interval") instanceof List<?> gi) a.addAll(List.of("--guidance-interval", str(gi.get(0)) + "," + str(gi.get(1))));
        return a;
    }

    private static String str(Object o) {
        return String.valueOf(o);
    }

    @Test
    void everyPublicCaseReachesItsThreshold() throws IOException {
        for (Map<String, Object> c : cases()) {
            String id = (String) c.get("id");
            Path out = dir.resolve(id + ".png");
            Run r = Cli.run(caseArgs(c, out).toArray(String[]::new));
            assertEquals(0, r.code(), id + ": " + r.err());
            RgbImage expected = PngFiles.readImage(Fixtures.root().resolve((String) ((Map<?, ?>) c.get("expected")).get("png")));
            double psnr = PngFiles.readImage(out).psnr(expected);
            double threshold = ((Number) c.get("threshold_db")).doubleValue();
            assertTrue(psnr >= threshold, id + ": PSNR " + psnr + " dB < " + threshold);
            Infotext info = Infotext.parse(PngFiles.readParameters(out).orElseThrow());
            assertEquals(c.get("prompt"), info.prompt());
            assertEquals(str(c.get("seed")), info.fields().get("Seed"));
        }
    }

    @Test
    void countNumbersFilesWithConsecutiveSeedsAndFromRegenerates() throws IOException {
        Map<String, Object> p01 = cases().getFirst();
        Path out = dir.resolve("cat.png");
        List<String> args = new ArrayList<>(caseArgs(p01, out));
        args.set(args.indexOf("--steps") + 1, "1");
        args.addAll(List.of("--count", "2"));
        Run r = Cli.run(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        Path second = dir.resolve("cat-1.png");
        assertEquals("43", Infotext.parse(PngFiles.readParameters(second).orElseThrow()).fields().get("Seed"));
        assertEquals("42", Infotext.parse(PngFiles.readParameters(out).orElseThrow()).fields().get("Seed"));

        // refuses to clobber without --overwrite, and says how to proceed
        byte[] before = Files.readAllBytes(out);
        r = Cli.run(args.toArray(String[]::new));
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--overwrite"), r.err());
        assertArrayEquals(before, Files.readAllBytes(out));

        // --from: same parameters, same pixels (the model is named again: the PNG stores only its name)
        Path again = dir.resolve("again.png");
        r = Cli.run("generate", "--from", second.toString(), "--model", Fixtures.model("flux1-tiny-schnell").toString(), "--output", again.toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        // same computation, same bits: every kernel is deterministic (fixed thread splits, vector exp and lane sums
        // giving the same bits interpreted or compiled), so the pixels must be identical
        assertArrayEquals(PngFiles.readImage(second).rgb(), PngFiles.readImage(again).rgb(), "regenerated image differs");

        Run info = Cli.run("info", again.toString());
        assertEquals(0, info.code());
        assertTrue(info.out().contains("Seed: 43") && info.out().contains("Steps: 1") && info.out().contains("Prompt: " + p01.get("prompt")), info.out());
    }

    @Test
    void badArgumentsExitWithCode2AndSayHowToFix() {
        String out = dir.resolve("x.png").toString();
        Run r = Cli.run("generate", "--prompt", "x", "--width", "1000", "--output", out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("multiple of 16") && r.err().contains("1008"), r.err());
        r = Cli.run("generate", "--prompt", "x", "--memory-budget", "lots", "--output", out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("16G"), r.err());
        r = Cli.run("generate", "--prompt", "x", "--weight-dtype", "int4", "--output", out);
        assertEquals(2, r.code());
        r = Cli.run("generate", "--prompt", "x", "--guidance-interval", "0.9", "--output", out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("LO,HI"), r.err());
        r = Cli.run("generate", "--width", "64", "--output", out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--prompt"), r.err());
        r = Cli.run("generate", "--prompt", "x", "--output", dir.resolve("x.jpg").toString());
        assertEquals(2, r.code());
        assertFalse(Files.exists(dir.resolve("x.png")));
    }

    @Test
    void missingModelFileIsARuntimeError() {
        Run r = Cli.run("generate", "--prompt", "x", "--model", dir.resolve("nope.safetensors").toString(), "--output", dir.resolve("x.png").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("nope.safetensors"), r.err());
    }

    @Test
    void infoOnAnImageWithoutParametersFails() throws IOException {
        Path png = dir.resolve("plain.png");
        javax.imageio.ImageIO.write(new java.awt.image.BufferedImage(2, 2, java.awt.image.BufferedImage.TYPE_INT_RGB), "png", png.toFile());
        Run r = Cli.run("info", png.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("no generation parameters"), r.err());
    }
}
