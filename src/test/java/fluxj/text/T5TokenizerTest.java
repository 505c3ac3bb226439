package fluxj.text;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import fluxj.tensor.ModelFormatException;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

/** T5 ids must equal the reference exactly (no tolerance: ids are integers). */
class T5TokenizerTest {
    static T5Tokenizer tok;

    @BeforeAll
    static void load() {
        tok = T5Tokenizer.load(TokCheck.t5Dir());
    }

    @Test
    void tokcheckIdsAreExact() {
        for (TokCheck t : TokCheck.all()) {
            assertArrayEquals(t.ids("t5_ids"), tok.encode(t.text()), "t5_ids of " + t);
            assertArrayEquals(t.ids("t5_input_ids_256"), tok.encodePadded(t.text(), 256), "t5_input_ids_256 of " + t);
            assertArrayEquals(t.ids("t5_input_ids_512"), tok.encodePadded(t.text(), 512), "t5_input_ids_512 of " + t);
        }
    }

    @Test
    void caseIdsAreExact() throws IOException {
        for (Map<String, Object> c : TextFixtures.cases()) {
            int maxLen = ((Long) c.get("t5_max_length")).intValue();
            int[] expected = TextFixtures.intermediate((String) c.get("id"), "t5_ids").ints();
            assertArrayEquals(expected, tok.encodePadded((String) c.get("prompt"), maxLen), "case " + c.get("id"));
        }
    }

    /** Strings beyond tokcheck: no reference ids, so only properties that must hold. */
    static final List<String> HARD = List.of("", " ", "   \t\n ", "a", "a photo of a cat", "A  PHOTO\tof\n\na   cat  ",
            "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "ﬁne ligatures ① ㎏", "東京タワー 🚀🚀 émoji Ωmega", "!!!??? ... --- ***",
            "3.14159 2024-01-01 1,000,000", "a</s>b", "a <extra_id_0> b", "<extra_id_99><extra_id_100>", "<pad><unk>x",
            "▁leading meta ▁", "\u0000\u0007control\u200bchars", "x".repeat(600));

    private static int[] body(int[] ids) {
        return Arrays.copyOf(ids, ids.length - 1);
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }

    @Test
    void emptyAndBlankPromptsAreJustTheEndToken() {
        assertArrayEquals(new int[]{1}, tok.encode(""));
        assertArrayEquals(new int[]{1}, tok.encode("  \t\n\u3000 "));
        int[] padded = tok.encodePadded("", 256);
        assertEquals(1, padded[0]);
        assertTrue(IntStream.range(1, 256).allMatch(i -> padded[i] == 0));
    }

    @Test
    void whitespaceIsTrimmedAndCollapsedAndWidthIsNormalised() {
        assertArrayEquals(tok.encode("a photo of a cat"), tok.encode("  a   photo\tof\n\na cat  "));
        assertArrayEquals(tok.encode("fullwidth ABC 123"), tok.encode("ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３"));
        assertArrayEquals(tok.encode("fine 1"), tok.encode("ﬁne ①"));
    }

    @Test
    void runsOfUnknownCharactersBecomeOneUnknownId() {
        int[] ids = tok.encode("東京タワー");
        assertEquals(1, Arrays.stream(ids).filter(id -> id == 2).count(), Arrays.toString(ids));
    }

    @Test
    void specialTokenStringsAreCutOutAndEachRunGetsItsOwnPrefix() {
        int[] a = body(tok.encode("a")), b = body(tok.encode("b"));
        assertArrayEquals(concat(a, new int[]{1}), tok.encode("a</s>"));
        assertArrayEquals(concat(a, new int[]{1}, b, new int[]{1}), tok.encode("a</s>b"));
        assertArrayEquals(concat(new int[]{0, 2}, a, new int[]{1}), tok.encode("<pad><unk>a"));
        assertArrayEquals(concat(a, new int[]{32099}, b, new int[]{1}), tok.encode("a <extra_id_0> b"));
        assertArrayEquals(concat(a, new int[]{32099}, b, new int[]{1}), tok.encode("a<extra_id_0>b"));
        assertArrayEquals(new int[]{32000, 1}, tok.encode("<extra_id_99>"));
        assertTrue(Arrays.stream(tok.encode("<extra_id_100>")).allMatch(id -> id < 32000));
    }

    @Test
    void longPromptsAreTruncatedWithTheEndTokenLast() {
        String prompt = "a very detailed photo of a cat, ".repeat(120);
        int[] full = tok.encode(prompt);
        assertTrue(full.length > 512);
        assertEquals(full.length, tok.countTokens(prompt));
        for (int len : new int[]{256, 512}) {
            int[] padded = tok.encodePadded(prompt, len);
            assertEquals(len, padded.length);
            assertArrayEquals(Arrays.copyOf(full, len - 1), Arrays.copyOf(padded, len - 1));
            assertEquals(1, padded[len - 1]);
        }
    }

    @Test
    void idsStayInTheVocabularyAndEndWithEos() {
        for (String s : HARD) {
            int[] ids = tok.encode(s);
            assertEquals(1, ids[ids.length - 1], s);
            assertTrue(Arrays.stream(ids).allMatch(id -> id >= 0 && id < 32100), s);
        }
    }

    @Test
    void tokenizerJsonGivesTheSameIdsAsSpieceModel() {
        T5Tokenizer fromJson = T5Tokenizer.load(TokCheck.t5Dir().resolve("tokenizer.json"));
        for (TokCheck t : TokCheck.all()) assertArrayEquals(t.ids("t5_ids"), fromJson.encode(t.text()), t.toString());
        for (String s : HARD) assertArrayEquals(tok.encode(s), fromJson.encode(s), s);
    }

    @Test
    void badInputNamesTheFile(@TempDir Path dir) throws IOException {
        var empty = assertThrows(ModelFormatException.class, () -> T5Tokenizer.load(dir));
        assertTrue(empty.getMessage().contains(dir.toString()), empty.getMessage());
        byte[] real = Files.readAllBytes(TokCheck.t5Dir().resolve("spiece.model"));
        Path truncated = dir.resolve("spiece.model");
        Files.write(truncated, Arrays.copyOf(real, 100_000));
        var cut = assertThrows(ModelFormatException.class, () -> T5Tokenizer.load(dir));
        assertTrue(cut.getMessage().startsWith(truncated.toString()), cut.getMessage());
        Path garbage = dir.resolve("garbage.model");
        Files.writeString(garbage, "this is not a protobuf at all, just some text");
        var text = assertThrows(ModelFormatException.class, () -> T5Tokenizer.load(garbage));
        assertTrue(text.getMessage().startsWith(garbage.toString()), text.getMessage());
        Path json = dir.resolve("tokenizer.json");
        Files.writeString(json, "{\"model\": {\"type\": \"BPE\"}}");
        var notUnigram = assertThrows(ModelFormatException.class, () -> T5Tokenizer.load(json));
        assertTrue(notUnigram.getMessage().startsWith(json.toString()), notUnigram.getMessage());
    }
}
