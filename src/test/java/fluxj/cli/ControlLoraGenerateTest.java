package fluxj.cli;

import fluxj.pipeline.Infotext;
import fluxj.pipeline.PngFiles;
import fluxj.testing.Cli;
import fluxj.testing.Cli.Run;
import fluxj.testing.ControlLoraCase;
import fluxj.testing.Fixtures;
import fluxj.testing.ImageCases;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Canny/Depth control LoRA on a base model through {@code fluxj generate}: the public control case
 * pi05_control_canny reproduced from a base (64-input) model plus a BFL-format control LoRA, both built in a
 * temporary folder from the case's Canny model (see {@link ControlLoraCase}); then its records, {@code --from},
 * and the errors.
 */
class ControlLoraGenerateTest {
    static final String CASE = ControlLoraCase.CASE;

    @TempDir
    static Path built;
    static Path base, lora;

    @BeforeAll
    static void build() throws IOException {
        ControlLoraCase.Files f = ControlLoraCase.build(built);
        base = f.base();
        lora = f.lora();
    }

    /** The case's command line on the base model, with {@code more} appended. */
    private static List<String> args(Path out, String... more) {
        List<String> a = new ArrayList<>(ImageCases.cliArgs(ImageCases.byId(CASE), out));
        a.set(a.indexOf("--model") + 1, base.toString());
        a.addAll(Arrays.asList(more));
        return a;
    }

    /**
     * Base model + control LoRA reproduces the Canny model's case, merged (the default for float weights) and on the
     * low-rank path (img_in widened as a float copy, every other layer's factors beside its matmul).
     */
    @Test
    void baseModelWithTheControlLoraReproducesTheCannyCase(@TempDir Path dir) throws IOException {
        Map<String, Object> c = ImageCases.byId(CASE);
        double threshold = ((Number) c.get("threshold_db")).doubleValue();
        for (String mode : List.of("merge", "low-rank")) {
            Path out = dir.resolve(mode + ".png");
            Run r = Cli.run(args(out, "--lora", lora.toString(), "--lora-mode", mode).toArray(String[]::new));
            assertEquals(0, r.code(), r.err());
            assertTrue(r.err().isEmpty(), mode + " warned: " + r.err());
            // The merged weights equal the Canny model's within one float32 rounding (the base held float32(Wc - D),
            // adding D back rounds once more): relative changes of 6e-8, far below the float32-vs-float64 spread of
            // the reference itself (69.6 dB); the low-rank path sums in another order. Both must reach the case's
            // threshold, as the Canny model file does.
            double psnr = PngFiles.readImage(out).psnr(PngFiles.readImage(ImageCases.file(ImageCases.expected(c).get("png"))));
            assertTrue(psnr >= threshold, mode + ": PSNR " + psnr);
        }
    }

    @Test
    void theLoraIsRecordedAndFromAppliesItAgain(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("a.png"), again = dir.resolve("b.png");
        Run r = Cli.run(args(out, "--lora", lora.toString()).toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        Infotext info = Infotext.parse(PngFiles.readParameters(out).orElseThrow());
        assertTrue(info.prompt().endsWith("<lora:flux1-tiny-canny-lora:1>"), info.prompt());
        assertTrue(info.fields().get("Lora hashes").matches("flux1-tiny-canny-lora: [0-9a-f]{12}"), info.fields().toString());
        assertTrue(Cli.run("info", out.toString()).out().contains("Lora hashes: " + info.fields().get("Lora hashes")));

        List<String> from = new ArrayList<>(List.of("generate", "--from", out.toString(), "--output", again.toString(), "--quiet"));
        List<String> a = args(out);
        for (String o : List.of("--model", "--vae", "--clip-l", "--t5", "--clip-tokenizer", "--t5-tokenizer")) from.addAll(List.of(o, a.get(a.indexOf(o) + 1)));
        r = Cli.run(from.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(PngFiles.readImage(out).rgb(), PngFiles.readImage(again).rgb());
    }

    /** {@code fluxj batch}: a control LoRA row gives generate's image, the base model's row after it its own, a row lacking the control image fails alone. */
    @Test
    void batchRowsSwitchTheControlLora(@TempDir Path dir) throws IOException {
        Map<String, Object> c = ImageCases.byId(CASE);
        Path control = ImageCases.file(c.get("control_image"));
        String common = "\"prompt\":\"" + c.get("prompt") + "\",\"seed\":105,\"width\":64,\"height\":64,\"steps\":4,\"guidance\":30";
        Path manifest = dir.resolve("rows.jsonl");
        Files.writeString(manifest, String.join("\n",
                "{\"id\":\"canny\"," + common + ",\"control_image\":\"" + control + "\",\"loras\":[\"" + lora + "\"]}",
                "{\"id\":\"plain\"," + common + "}",
                "{\"id\":\"nocontrol\"," + common + ",\"loras\":[\"" + lora + "\"]}", ""));
        List<String> a = args(dir.resolve("unused.png"));
        List<String> batch = new ArrayList<>(List.of("batch", "--manifest", manifest.toString(), "--output-dir", dir.resolve("out").toString(), "--quiet"));
        for (String o : List.of("--model", "--vae", "--clip-l", "--t5", "--clip-tokenizer", "--t5-tokenizer")) batch.addAll(List.of(o, a.get(a.indexOf(o) + 1)));
        Run r = Cli.run(batch.toArray(String[]::new));
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("(nocontrol): ") && r.err().contains("control LoRA") && r.err().contains("control image"), r.err());
        assertTrue(r.err().contains("2 generated, 0 skipped (already there), 1 failed"), r.err());
        Path single = dir.resolve("single.png");
        assertEquals(0, Cli.run(args(single, "--lora", lora.toString()).toArray(String[]::new)).code());
        assertArrayEquals(Files.readAllBytes(single), Files.readAllBytes(dir.resolve("out/canny.png")));
        List<String> plain = args(single, "--overwrite");
        int i = plain.indexOf("--control-image");
        plain.remove(i + 1);
        plain.remove(i);
        assertEquals(0, Cli.run(plain.toArray(String[]::new)).code());
        assertArrayEquals(Files.readAllBytes(single), Files.readAllBytes(dir.resolve("out/plain.png")));
    }

    @Test
    void controlLoraErrorsNameTheProblemAndWriteNothing(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("x.png");
        // the LoRA makes the base a control model, which needs a control image
        List<String> noControl = args(out, "--lora", lora.toString());
        int i = noControl.indexOf("--control-image");
        noControl.remove(i + 1);
        noControl.remove(i);
        expect(out, "control LoRA", "control image", noControl);
        // without the LoRA the base model cannot take the control image
        expect(out, "control model", "64-channel", args(out));
        // a Fill model cannot take a control LoRA
        List<String> fill = args(out, "--lora", lora.toString());
        fill.set(fill.indexOf("--model") + 1, Fixtures.model("flux1-tiny-image/flux1-fill-dev.safetensors").toString());
        expect(out, "img_in.lora_A.weight", "Fill", fill);
        // a control model takes no Kontext references
        Path ref = ImageCases.file(((List<?>) ImageCases.byId("pi04_kontext").get("ref_images")).getFirst());
        expect(out, "control LoRA", "reference images", args(out, "--lora", lora.toString(), "--ref-image", ref.toString()));
    }

    private static void expect(Path out, String mention, String also, List<String> args) {
        Run r = Cli.run(args.toArray(String[]::new));
        assertNotEquals(0, r.code(), r.err());
        assertTrue(r.err().contains(mention) && r.err().contains(also), "expected '" + mention + "' and '" + also + "' in: " + r.err());
        assertFalse(r.err().contains("\tat "), "stack trace: " + r.err());
        assertFalse(Files.exists(out));
    }
}
