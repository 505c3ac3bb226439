package fluxj.cli;

import fluxj.gguf.GgufFile;
import fluxj.gguf.GgufModelsTest;
import fluxj.io.Json;
import fluxj.pipeline.PngFiles;
import fluxj.pipeline.RgbImage;
import fluxj.testing.Cli;
import fluxj.testing.Cli.Run;
import fluxj.testing.Fixtures;
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

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The public GGUF cases of cases-quant.json ({@code pg..}: GGUF transformers and T5) end to end through the CLI. */
class GgufGenerateTest {
    @TempDir
    Path dir;

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> ggufCases() throws IOException {
        List<Map<String, Object>> all = (List<Map<String, Object>>) Json.readObject(Fixtures.path("cases-quant.json")).get("cases");
        return all.stream().filter(c -> ((String) c.get("id")).startsWith("pg")).toList();
    }

    @Test
    void inspectShowsTheModelAndBytesPerType() {
        Run r = Cli.run("inspect", "--summary", Fixtures.model("flux1-tiny-gguf/flux1-g-schnell-Q4_K_S.gguf").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("kind:       FLUX.1 transformer, schnell-type"), r.out());
        assertTrue(r.out().contains("bytes:      F32 65,792 bytes (64.3 KiB), BF16 786,432 bytes (768.0 KiB), Q4_K 2,433,024 bytes (2.3 MiB)"), r.out());
        assertTrue(r.out().contains("\"general.architecture\":\"flux\""), r.out());
        r = Cli.run("inspect", Fixtures.model("flux1-tiny-gguf/t5-v1_1-tiny-encoder-Q8_0.gguf").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("kind:       T5 encoder, d_model 64, 2 blocks, 2 heads"), r.out());
        assertTrue(r.out().matches("(?s).*\\n  encoder\\.block\\.0\\.layer\\.0\\.SelfAttention\\.relative_attention_bias\\.weight +F16 +\\[32, 2]\\n.*"), r.out());
        r = Cli.run("inspect", dir.resolve("missing.gguf").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("missing.gguf"), r.err());
    }

    @Test
    void everyPublicGgufCaseReachesItsThreshold() throws IOException {
        List<Map<String, Object>> cases = ggufCases();
        assertFalse(cases.isEmpty());
        for (Map<String, Object> c : cases) {
            String id = (String) c.get("id");
            Path out = dir.resolve(id + ".png");
            Run r = Cli.run(GenerateCommandTest.caseArgs(c, out).toArray(String[]::new));
            assertEquals(0, r.code(), id + ": " + r.err());
            RgbImage expected = PngFiles.readImage(Fixtures.root().resolve((String) ((Map<?, ?>) c.get("expected")).get("png")));
            double psnr = PngFiles.readImage(out).psnr(expected);
            double threshold = ((Number) c.get("threshold_db")).doubleValue();
            assertTrue(psnr >= threshold, id + ": PSNR " + psnr + " dB < " + threshold);
            System.out.printf("%s: PSNR %.1f dB (threshold %.0f)%n", id, psnr, threshold);
        }
    }

    @Test
    void stableDiffusionCppFilesAreRecognisedFromTheirNamesAndGiveTheSameImage() throws IOException {
        Path city96 = Fixtures.model("flux1-tiny-gguf/flux1-g-schnell-Q4_K_S.gguf");
        Path sd = GgufModelsTest.sdCpp(city96, dir.resolve("flux1-g-schnell-sdcpp-q4_k.gguf"));
        try (GgufFile g = GgufFile.open(sd)) {
            assertTrue(g.metadata().isEmpty());
        }
        Run r = Cli.run("inspect", "--summary", sd.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("kind:       FLUX.1 transformer, schnell-type") && r.out().contains("names prefixed 'model.diffusion_model.'"), r.out());

        Map<String, Object> pg03 = ggufCases().stream().filter(c -> c.get("id").equals("pg03_schnell_gguf_q4_k")).findFirst().orElseThrow();
        Path a = dir.resolve("city96.png"), b = dir.resolve("sdcpp.png");
        List<String> args = new ArrayList<>(GenerateCommandTest.caseArgs(pg03, a));
        assertEquals(0, Cli.run(args.toArray(String[]::new)).code());
        args = new ArrayList<>(GenerateCommandTest.caseArgs(pg03, b));
        args.set(args.indexOf("--model") + 1, sd.toString());
        Run run = Cli.run(args.toArray(String[]::new));
        assertEquals(0, run.code(), run.err());
        assertArrayEquals(PngFiles.readImage(a).rgb(), PngFiles.readImage(b).rgb(), "same weights, same image");
    }

    /**
     * {@code --matmul onednn} on the GGUF cases (decoded blocks rounded to bf16, bf16 activations), each in a child
     * JVM as in OneDnnGenerateTest, held to the same 50 dB as the other cases on that path.
     */
    @Test
    void oneDnnPathStaysCloseToTheF32Reference() throws IOException, InterruptedException {
        OneDnn.require("oneDNN path");
        for (Map<String, Object> c : ggufCases()) {
            String id = (String) c.get("id");
            Path out = dir.resolve(id + "-onednn.png");
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx2g",
                    "-cp", System.getProperty("java.class.path"), Main.class.getName(), "--matmul", "onednn"));
            cmd.addAll(GenerateCommandTest.caseArgs(c, out));
            cmd.remove("--quiet");
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(5, TimeUnit.MINUTES), id + " did not finish");
            assertEquals(0, p.exitValue(), id + ": " + log);
            assertTrue(log.contains("oneDNN"), id + " did not run oneDNN: " + log);
            RgbImage expected = PngFiles.readImage(Fixtures.root().resolve((String) ((Map<?, ?>) c.get("expected")).get("png")));
            double psnr = PngFiles.readImage(out).psnr(expected);
            System.out.printf("%s --matmul onednn: PSNR %.1f dB%n", id, psnr);
            assertTrue(psnr >= 50, id + ": PSNR " + psnr + " dB with --matmul onednn");
        }
    }

    /**
     * {@code --weight-dtype q8_0} on the BF16 case converts the transformer once into the cache, to exactly the
     * city96 Q8_0 file, and gives the image that file gives.
     */
    @Test
    void weightDtypeQ8_0ConvertsOnceToCity96sFile() throws IOException {
        Path cache = dir.resolve("cache");
        String old = System.getProperty("fluxj.cache");
        System.setProperty("fluxj.cache", cache.toString());
        try {
            Map<String, Object> pg01 = ggufCases().stream().filter(c -> c.get("id").equals("pg01_schnell_gguf_bf16")).findFirst().orElseThrow();
            Path converted = dir.resolve("converted.png"), direct = dir.resolve("direct.png");
            List<String> args = new ArrayList<>(GenerateCommandTest.caseArgs(pg01, converted));
            args.set(args.indexOf("--steps") + 1, "1");
            args.addAll(List.of("--weight-dtype", "q8_0"));
            Run r = Cli.run(args.toArray(String[]::new));
            assertEquals(0, r.code(), r.err());
            List<Path> files;
            try (var s = java.nio.file.Files.list(cache.resolve("gguf"))) {
                files = s.toList();
            }
            assertEquals(1, files.size(), files.toString());
            Path q8 = Fixtures.model("flux1-tiny-gguf/flux1-g-schnell-Q8_0.gguf");
            assertArrayEquals(java.nio.file.Files.readAllBytes(q8), java.nio.file.Files.readAllBytes(files.getFirst()));
            assertEquals("q8_0", fluxj.pipeline.Infotext.parse(PngFiles.readParameters(converted).orElseThrow()).fields().get("Weight dtype"));

            args = new ArrayList<>(GenerateCommandTest.caseArgs(pg01, direct));
            args.set(args.indexOf("--steps") + 1, "1");
            args.set(args.indexOf("--model") + 1, q8.toString());
            r = Cli.run(args.toArray(String[]::new));
            assertEquals(0, r.code(), r.err());
            assertArrayEquals(PngFiles.readImage(direct).rgb(), PngFiles.readImage(converted).rgb());
        } finally {
            if (old == null) System.clearProperty("fluxj.cache"); else System.setProperty("fluxj.cache", old);
        }
    }
}
