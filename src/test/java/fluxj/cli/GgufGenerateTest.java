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
