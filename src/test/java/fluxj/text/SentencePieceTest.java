package fluxj.text;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.*;

/**
 * sentencepiece behaviours the T5 vocabulary never exercises, on tiny hand-made models whose segmentation can
 * be worked out by hand (identity normalisation, so the expected ids follow from the scores alone).
 */
class SentencePieceTest {
    /** Writes a ModelProto: pieces (field 1), trainer_spec (2), normalizer_spec (3). */
    private static final class ModelWriter {
        final ByteArrayOutputStream pieces = new ByteArrayOutputStream();
        boolean byteFallback, removeExtraWhitespaces = true;
        int count;

        ModelWriter piece(String piece, float score, int type) {
            ByteArrayOutputStream p = new ByteArrayOutputStream();
            bytes(p, 1, piece.getBytes(StandardCharsets.UTF_8));
            tag(p, 2, 5);
            int bits = Float.floatToIntBits(score);
            for (int i = 0; i < 4; i++) p.write(bits >>> (8 * i));
            tag(p, 3, 0);
            varint(p, type);
            bytes(pieces, 1, p.toByteArray());
            count++;
            return this;
        }

        byte[] build() {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.writeBytes(pieces.toByteArray());
            ByteArrayOutputStream trainer = new ByteArrayOutputStream();
            tag(trainer, 3, 0);
            varint(trainer, 1);
            tag(trainer, 35, 0);
            varint(trainer, byteFallback ? 1 : 0);
            bytes(out, 2, trainer.toByteArray());
            ByteArrayOutputStream norm = new ByteArrayOutputStream();
            bytes(norm, 1, "identity".getBytes(StandardCharsets.UTF_8));
            tag(norm, 4, 0);
            varint(norm, removeExtraWhitespaces ? 1 : 0);
            bytes(out, 3, norm.toByteArray());
            return out.toByteArray();
        }

        static void tag(ByteArrayOutputStream o, int field, int wire) { varint(o, (long) field << 3 | wire); }

        static void varint(ByteArrayOutputStream o, long v) {
            while ((v & ~0x7FL) != 0) {
                o.write((int) (v & 0x7F | 0x80));
                v >>>= 7;
            }
            o.write((int) v);
        }

        static void bytes(ByteArrayOutputStream o, int field, byte[] b) {
            tag(o, field, 2);
            varint(o, b.length);
            o.writeBytes(b);
        }
    }

    /** 0 unk, 1 eos, 2 pad, 3 "▁", 4 "a", 5 "b", 6 "▁ab", 7 user-defined "<sep>", 8 "ab" (scored below a + b). */
    private static ModelWriter base() {
        return new ModelWriter().piece("<unk>", 0, 2).piece("</s>", 0, 3).piece("<pad>", 0, 3)
                .piece("▁", -1, 1).piece("a", -2, 1).piece("b", -2, 1).piece("▁ab", -1, 1)
                .piece("<sep>", 0, 4).piece("ab", -10, 1);
    }

    private static T5Tokenizer load(ModelWriter w, Path dir) throws IOException {
        Path file = dir.resolve("spiece.model");
        Files.write(file, w.build());
        return T5Tokenizer.load(file);
    }

    @Test
    void highestScoringSegmentationWins(@TempDir Path dir) throws IOException {
        T5Tokenizer t = load(base(), dir);
        // "▁ab" (-1) beats "▁" + "a" + "b" (-5); inside a word "a" + "b" (-4) beats "ab" (-10).
        assertArrayEquals(new int[]{6, 6, 1}, t.encode("ab ab"));
        assertArrayEquals(new int[]{6, 4, 5, 1}, t.encode("abab"));
    }

    @Test
    void userDefinedSymbolsAreAlwaysOnePiece(@TempDir Path dir) throws IOException {
        assertArrayEquals(new int[]{6, 7, 4, 5, 1}, load(base(), dir).encode("ab<sep>ab"));
    }

    @Test
    void consecutiveUnknownCharactersMergeIntoOneUnknown(@TempDir Path dir) throws IOException {
        assertArrayEquals(new int[]{3, 0, 1}, load(base(), dir).encode("xyz"));
        assertArrayEquals(new int[]{3, 0, 4, 0, 1}, load(base(), dir).encode("xaé"));
    }

    @Test
    void byteFallbackSpellsUnknownCharactersAsUtf8Bytes(@TempDir Path dir) throws IOException {
        ModelWriter w = base();
        w.byteFallback = true;
        int first = w.count;
        for (int b = 0; b < 256; b++) w.piece(String.format(Locale.ROOT, "<0x%02X>", b), 0, 6);
        assertArrayEquals(new int[]{3, first + 0x78, first + 0xC3, first + 0xA9, 1}, load(w, dir).encode("xé"));
    }

    @Test
    void extraWhitespaceIsKeptWhenTheSpecSaysSo(@TempDir Path dir) throws IOException {
        assertArrayEquals(new int[]{3, 4, 3, 5, 1}, load(base(), dir).encode("  a   b  "));
        ModelWriter keep = base();
        keep.removeExtraWhitespaces = false;
        Path other = Files.createDirectory(dir.resolve("keep"));
        // The dummy prefix plus every space, each written as "▁".
        assertArrayEquals(new int[]{3, 3, 3, 4, 3, 3, 5, 1}, load(keep, other).encode("  a  b"));
    }

    @Test
    void modelsWithoutAnUnknownPieceAreRejected(@TempDir Path dir) {
        ModelWriter w = new ModelWriter().piece("</s>", 0, 3).piece("<pad>", 0, 3).piece("a", -1, 1);
        var e = assertThrows(fluxj.tensor.ModelFormatException.class, () -> load(w, dir));
        assertTrue(e.getMessage().contains("unknown piece"), e.getMessage());
    }

    @Test
    void duplicatePiecesAreRejected(@TempDir Path dir) {
        var e = assertThrows(fluxj.tensor.ModelFormatException.class, () -> load(base().piece("a", -3, 1), dir));
        assertTrue(e.getMessage().contains("piece a is defined twice"), e.getMessage());
    }

    @Test
    void veryLongPiecesLoadAndMatch(@TempDir Path dir) throws IOException {
        String longPiece = "ab".repeat(50_000);
        ModelWriter w = base().piece("▁" + longPiece, -1, 1);
        assertArrayEquals(new int[]{w.count - 1, 1}, load(w, dir).encode(longPiece));
    }
}
