package fluxj.cli;

import fluxj.io.Json;
import fluxj.pipeline.Infotext;
import fluxj.pipeline.PngFiles;
import fluxj.pipeline.RgbImage;
import fluxj.testing.Cli;
import fluxj.testing.Cli.Run;
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
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The public LoRA cases of cases-quant.json through {@code fluxj generate --lora}, then {@code info} and {@code --from}. */
class LoraGenerateTest {
    @TempDir
    Path dir;

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> loraCases() throws IOException {
        List<Map<String, Object>> all = (List<Map<String, Object>>) Json.readObject(Fixtures.root().resolve("cases-quant.json")).get("cases");
        return all.stream().filter(c -> c.get("loras") != null).toList();
    }

    /** caseArgs plus each [path, weight] of the case's loras as --lora PATH:WEIGHT. */
    static List<String> args(Map<String, Object> c, Path out) {
        List<String> a = new ArrayList<>(GenerateCommandTest.caseArgs(c, out));
        for (Object l : (List<?>) c.get("loras")) {
            List<?> pw = (List<?>) l;
            a.addAll(List.of("--lora", Fixtures.root().resolve((String) pw.get(0)) + ":" + pw.get(1)));
        }
        return a;
    }

    @Test
    void publicLoraCasesReachTheirThresholdAndAreRecorded() throws IOException {
        List<Map<String, Object>> cases = loraCases();
        assertEquals(2, cases.size());
        for (Map<String, Object> c : cases) {
            String id = (String) c.get("id");
            Path out = dir.resolve(id + ".png");
            Run r = Cli.run(args(c, out).toArray(String[]::new));
            assertEquals(0, r.code(), id + ": " + r.err());
            assertTrue(r.err().isEmpty(), id + " warned: " + r.err());
            RgbImage expected = PngFiles.readImage(Fixtures.root().resolve((String) ((Map<?, ?>) c.get("expected")).get("png")));
            double psnr = PngFiles.readImage(out).psnr(expected);
            assertTrue(psnr >= ((Number) c.get("threshold_db")).doubleValue(), id + ": PSNR " + psnr);

            Infotext info = Infotext.parse(PngFiles.readParameters(out).orElseThrow());
            List<?> lora = (List<?>) ((List<?>) c.get("loras")).getFirst();
            String name = Path.of((String) lora.get(0)).getFileName().toString().replace(".safetensors", "");
            assertEquals(c.get("prompt") + " <lora:" + name + ":" + Infotext.number(((Number) lora.get(1)).doubleValue()) + ">", info.prompt());
            assertTrue(info.fields().get("Lora hashes").matches(name + ": [0-9a-f]{12}"), info.fields().toString());

            Run shown = Cli.run("info", out.toString());
            assertTrue(shown.out().contains("Lora hashes: " + info.fields().get("Lora hashes")), shown.out());

            // --from finds the same file and weight again: the same image, pixel for pixel
            Path again = dir.resolve(id + "-again.png");
            List<String> from = List.of("generate", "--from", out.toString(), "--model", args(c, out).get(args(c, out).indexOf("--model") + 1),
                    "--vae", arg(c, "--vae"), "--clip-l", arg(c, "--clip-l"), "--t5", arg(c, "--t5"),
                    "--clip-tokenizer", arg(c, "--clip-tokenizer"), "--t5-tokenizer", arg(c, "--t5-tokenizer"), "--output", again.toString(), "--quiet");
            r = Cli.run(from.toArray(String[]::new));
            assertEquals(0, r.code(), r.err());
            assertArrayEquals(PngFiles.readImage(out).toBufferedImage().getRGB(0, 0, 64, 64, null, 0, 64),
                    PngFiles.readImage(again).toBufferedImage().getRGB(0, 0, 64, 64, null, 0, 64));
            assertEquals(info.prompt(), Infotext.parse(PngFiles.readParameters(again).orElseThrow()).prompt());
        }
    }

    private String arg(Map<String, Object> c, String option) {
        List<String> a = args(c, dir.resolve("x.png"));
        return a.get(a.indexOf(option) + 1);
    }

    @Test
    void promptTagsFindLorasInTheLoraDirAndAreRemovedBeforeEncoding() throws IOException {
        Map<String, Object> c = loraCases().get(1);
        Path viaFlag = dir.resolve("flag.png"), viaTag = dir.resolve("tag.png");
        assertEquals(0, Cli.run(args(c, viaFlag).toArray(String[]::new)).code());
        List<String> a = new ArrayList<>(GenerateCommandTest.caseArgs(c, viaTag));
        a.set(a.indexOf("--prompt") + 1, "<lora:flux1-tiny-schnell-lora-peft:0.8>" + c.get("prompt"));
        a.addAll(List.of("--lora-dir", Fixtures.model("flux1-tiny-lora").toString()));
        Run r = Cli.run(a.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(Files.readAllBytes(viaFlag), Files.readAllBytes(viaTag));
    }

    /** A LoRA that does not fit fails before any work, naming file and key, and leaves the output as it was. */
    @Test
    void badLorasFailBeforeDenoisingWithoutTouchingTheOutput() throws IOException {
        Map<String, Object> c = loraCases().getFirst();
        Path lora = Fixtures.model("flux1-tiny-lora/flux1-tiny-schnell-lora-kohya.safetensors");
        byte[] bytes = Files.readAllBytes(lora);
        Path cut = Files.write(dir.resolve("cut.safetensors"), java.util.Arrays.copyOf(bytes, bytes.length - 100));
        Path out = dir.resolve("out.png");
        List<String> a = new ArrayList<>(GenerateCommandTest.caseArgs(c, out));
        a.remove("--quiet");
        a.addAll(List.of("--lora", cut + ":0.5"));
        Run r = Cli.run(a.toArray(String[]::new));
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains(cut.toString()) && r.err().contains("truncated"), r.err());
        assertTrue(!r.err().contains("step") && !Files.exists(out), r.err());

        // an existing output survives a failed run even with --overwrite
        Files.writeString(out, "previous image");
        a.add("--overwrite");
        assertEquals(1, Cli.run(a.toArray(String[]::new)).code());
        assertEquals("previous image", Files.readString(out));

        List<String> missing = new ArrayList<>(GenerateCommandTest.caseArgs(c, dir.resolve("m.png")));
        missing.addAll(List.of("--lora", dir.resolve("nothing.safetensors") + ":0.5"));
        r = Cli.run(missing.toArray(String[]::new));
        assertEquals(2, r.code());
        assertTrue(r.err().contains("nothing.safetensors: no such file"), r.err());

        List<String> tag = new ArrayList<>(GenerateCommandTest.caseArgs(c, dir.resolve("t.png")));
        tag.set(tag.indexOf("--prompt") + 1, "a boat <lora:style:0.7>");
        r = Cli.run(tag.toArray(String[]::new));
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--lora-dir"), r.err());
    }

    /** A LoRA on a GGUF Q8_0 model through the CLI (its exact semantics are LoraTransformerTest's): it applies. */
    @Test
    @SuppressWarnings("unchecked")
    void loraOnAGgufModel() throws IOException {
        List<Map<String, Object>> all = (List<Map<String, Object>>) Json.readObject(Fixtures.root().resolve("cases-quant.json")).get("cases");
        Map<String, Object> c = all.stream().filter(x -> "pg02_schnell_gguf_q8_0_t5_q8_0".equals(x.get("id"))).findFirst().orElseThrow();
        Path model = Fixtures.root().resolve((String) ((Map<String, Object>) c.get("model")).get("transformer"));
        Path lora = fluxj.testing.TestLoras.everyLayer(model, dir.resolve("g.safetensors"));
        Path out = dir.resolve("g.png");
        List<String> a = new ArrayList<>(GenerateCommandTest.caseArgs(c, out));
        a.remove("--quiet");
        a.addAll(List.of("--lora", lora + ":1.5"));
        Run r = Cli.run(a.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        RgbImage expected = PngFiles.readImage(Fixtures.root().resolve((String) ((Map<?, ?>) c.get("expected")).get("png")));
        double psnr = PngFiles.readImage(out).psnr(expected);
        assertTrue(psnr < 40, "the LoRA changed nothing: " + psnr + " dB against the image without it");
    }
}
