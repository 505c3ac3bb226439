package fluxj.cli;

import fluxj.pipeline.PngFiles;
import fluxj.pipeline.RgbImage;
import fluxj.testing.Fixtures;
import fluxj.testing.ImageCases;
import fluxj.testing.OneDnn;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --matmul onednn} on every public fixture case, end to end: the image's PSNR against the f32 reference. The
 * text-to-image, image-conditioning and LoRA cases run here; the GGUF cases in {@link GgufGenerateTest}, to the same
 * bound. The backend is chosen once per process, so each case runs in a child JVM (this suite runs the Java path).
 */
class OneDnnGenerateTest {
    // bf16 activations, weights and attention (as PyTorch's bf16 CPU path) give 51.7-54.7 dB on these cases where
    // the f32 path gives 68-89 dB; a step of 2 dB below that catches a real loss of accuracy (a wrong scale, layout
    // or tile gives < 20 dB; the VAE encoder in bf16 took img2img and Kontext to 46 dB) without failing on the
    // spread between CPUs and oneDNN versions.
    private static final double MIN_PSNR_DB = 50;

    @TempDir
    Path dir;

    @Test
    void everyPublicCaseStaysCloseToTheF32Reference() throws IOException, InterruptedException {
        OneDnn.require("oneDNN path");
        record Case(Map<String, Object> json, List<String> args) {}
        List<Case> all = new ArrayList<>();
        for (Map<String, Object> c : GenerateCommandTest.cases()) all.add(new Case(c, GenerateCommandTest.caseArgs(c, out(c))));
        for (Map<String, Object> c : ImageCases.all()) all.add(new Case(c, ImageCases.cliArgs(c, out(c))));
        for (Map<String, Object> c : LoraGenerateTest.loraCases()) all.add(new Case(c, LoraGenerateTest.args(c, out(c))));
        for (Case k : all) {
            Map<String, Object> c = k.json();
            String id = id(c);
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx2g",
                    "-cp", System.getProperty("java.class.path"), Main.class.getName(), "--matmul", "onednn"));
            cmd.addAll(k.args());
            // the log line naming the matmul in use is informational: --quiet would drop it
            cmd.remove("--quiet");
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(5, TimeUnit.MINUTES), id + " did not finish");
            assertEquals(0, p.exitValue(), id + ": " + log);
            assertTrue(log.contains("oneDNN"), id + " did not run oneDNN: " + log);
            RgbImage expected = PngFiles.readImage(Fixtures.root().resolve((String) ((Map<?, ?>) c.get("expected")).get("png")));
            double psnr = PngFiles.readImage(out(c)).psnr(expected);
            // Printed for the README's accuracy table (surefire keeps it in the test's output file).
            System.out.printf("%s: PSNR %.2f dB with --matmul onednn%n", id, psnr);
            assertTrue(psnr >= MIN_PSNR_DB, id + ": PSNR " + psnr + " dB with --matmul onednn");
        }
    }

    private static String id(Map<String, Object> c) { return (String) c.get("id"); }

    private Path out(Map<String, Object> c) { return dir.resolve(id(c) + ".png"); }
}
