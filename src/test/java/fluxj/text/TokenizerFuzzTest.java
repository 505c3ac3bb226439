package fluxj.text;

import fluxj.tensor.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Damaged tokenizer files (the fixture's, cut short or with bytes overwritten): each must either load or end in
 * a ModelFormatException naming the file, never another exception.
 */
@Timeout(120)
class TokenizerFuzzTest {
    @TempDir
    Path dir;

    @Test
    void damagedSpieceModel() throws IOException {
        fuzz(Files.readAllBytes(TokCheck.t5Dir().resolve("spiece.model")), "spiece.model", T5Tokenizer::load);
    }

    @Test
    void damagedT5TokenizerJson() throws IOException {
        fuzz(Files.readAllBytes(TokCheck.t5Dir().resolve("tokenizer.json")), "tokenizer.json", T5Tokenizer::load);
    }

    @Test
    void damagedClipVocab() throws IOException {
        byte[] vocab = Files.readAllBytes(TokCheck.clipDir().resolve("vocab.json"));
        Files.copy(TokCheck.clipDir().resolve("merges.txt"), dir.resolve("merges.txt"));
        fuzz(vocab, "vocab.json", f -> ClipTokenizer.load(f.getParent()));
    }

    /** Truncations at spread-out lengths, then single overwritten bytes (a seeded random spot and value each). */
    private void fuzz(byte[] valid, String name, Function<Path, ?> load) throws IOException {
        Path file = dir.resolve(name);
        SplittableRandom rnd = new SplittableRandom(5);
        for (int i = 0; i < 16; i++) {
            int cut = i < 6 ? i : rnd.nextInt(valid.length);
            check(java.util.Arrays.copyOf(valid, cut), file, load, "cut to " + cut + " bytes");
        }
        for (int i = 0; i < 16; i++) {
            byte[] b = valid.clone();
            // Early bytes hold the structure (headers, first entries); spots there are the most telling.
            int at = i % 2 == 0 ? rnd.nextInt(Math.min(valid.length, 256)) : rnd.nextInt(valid.length);
            b[at] = (byte) rnd.nextInt(256);
            check(b, file, load, "byte " + at + " set to " + (b[at] & 0xFF));
        }
    }

    private static void check(byte[] content, Path file, Function<Path, ?> load, String damage) throws IOException {
        Files.write(file, content);
        try {
            load.apply(file);
        } catch (ModelFormatException e) {
            assertTrue(e.getMessage().contains(file.getFileName().toString()), damage + ": message does not name the file: " + e.getMessage());
        } catch (RuntimeException e) {
            fail(damage + ": " + e + " instead of a ModelFormatException; head: "
                    + new String(content, 0, Math.min(40, content.length), StandardCharsets.ISO_8859_1), e);
        }
    }
}
