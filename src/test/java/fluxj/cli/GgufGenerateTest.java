package fluxj.cli;

import fluxj.io.Json;
import fluxj.pipeline.PngFiles;
import fluxj.pipeline.RgbImage;
import fluxj.testing.Cli;
import fluxj.testing.Cli.Run;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

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
}
