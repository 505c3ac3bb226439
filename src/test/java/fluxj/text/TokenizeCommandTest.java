package fluxj.text;

import fluxj.testing.Cli;
import fluxj.testing.Cli.Run;

import fluxj.cli.Main;
import fluxj.io.Json;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** {@code fluxj tokenize} through {@link Main#execute}, checked against tokcheck.json. */
class TokenizeCommandTest {
    private static List<?> ids(Run r, String key) {
        return (List<?>) ((Map<?, ?>) Json.parse(r.out())).get(key);
    }

    /** Two strings only (each run loads both tokenizers); the unit tests cover every tokcheck entry. */
    @Test
    void modelFolderGivesBothIdListsOfTheReference() {
        List<TokCheck> all = TokCheck.all();
        for (TokCheck t : List.of(all.get(0), all.get(5))) {
            Run r = Cli.run("tokenize", "--model", Fixtures.model("flux1-tiny-schnell").toString(), "--", t.text());
            assertEquals(0, r.code(), r.err());
            assertEquals(Json.write(t.ids("clip_ids")), Json.write(ids(r, "clip")), t.toString());
            assertEquals(Json.write(t.ids("t5_ids")), Json.write(ids(r, "t5")), t.toString());
            assertEquals(List.of("clip", "t5"), List.copyOf(((Map<?, ?>) Json.parse(r.out())).keySet()));
        }
    }

    @Test
    void separateTokenizersAndMaxLengthTruncateLikeThePipeline() {
        String text = "a very detailed photo of a cat, ".repeat(30);
        Run r = Cli.run("tokenize", "--clip-tokenizer", TokCheck.clipDir().toString(),
                "--t5-tokenizer", TokCheck.t5Dir().resolve("tokenizer.json").toString(), "--max-length", "16", text);
        assertEquals(0, r.code(), r.err());
        List<?> clip = ids(r, "clip"), t5 = ids(r, "t5");
        assertEquals(77, clip.size());
        assertEquals(49407L, clip.get(76));
        assertEquals(16, t5.size());
        assertEquals(1L, t5.get(15));
        Run onlyT5 = Cli.run("tokenize", "--t5-tokenizer", TokCheck.t5Dir().toString(), "");
        assertEquals("{\"t5\":[1]}", onlyT5.out().strip());
    }

    @Test
    void usageAndFileErrorsAreOneLine(@TempDir Path dir) {
        assertEquals(2, Cli.run("tokenize", "text").code());
        assertEquals(2, Cli.run("tokenize", "--model", dir.toString(), "--t5-tokenizer", dir.toString(), "text").code());
        Run missing = Cli.run("tokenize", "--model", dir.toString(), "text");
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains(dir.toString()) && !missing.err().strip().contains("\n"), missing.err());
        Run noFile = Cli.run("tokenize", "--t5-tokenizer", dir.resolve("nothing.model").toString(), "text");
        assertEquals(1, noFile.code());
        assertTrue(noFile.err().contains("nothing.model"), noFile.err());
    }
}
