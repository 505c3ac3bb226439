package fluxj.text;

import fluxj.io.Json;
import fluxj.tensor.ModelFormatException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

/** CLIP ids must equal the reference exactly (no tolerance: ids are integers). */
class ClipTokenizerTest {
    static ClipTokenizer tok;

    @BeforeAll
    static void load() {
        tok = ClipTokenizer.load(TokCheck.clipDir());
    }

    @Test
    void tokcheckIdsAreExact() {
        for (TokCheck t : TokCheck.all()) {
            assertArrayEquals(t.ids("clip_ids"), tok.encode(t.text()), "clip_ids of " + t);
            assertArrayEquals(t.ids("clip_input_ids"), tok.encodePadded(t.text(), 77), "clip_input_ids of " + t);
        }
    }

    @Test
    void caseIdsAreExact() throws IOException {
        for (Map<String, Object> c : TextFixtures.cases()) {
            int maxLen = ((Long) c.get("clip_max_length")).intValue();
            int[] expected = TextFixtures.intermediate((String) c.get("id"), "clip_ids").ints();
            assertArrayEquals(expected, tok.encodePadded((String) c.get("prompt"), maxLen), "case " + c.get("id"));
        }
    }

    @Test
    void emptyAndBlankPromptsAreJustStartAndEnd() {
        int[] bosEos = {49406, 49407};
        assertArrayEquals(bosEos, tok.encode(""));
        assertArrayEquals(bosEos, tok.encode("   \t\n  "));
        assertArrayEquals(bosEos, tok.encode("\u0000\u0001\u200b"));
        int[] padded = tok.encodePadded("", 77);
        assertEquals(77, padded.length);
        assertEquals(49406, padded[0]);
        assertTrue(IntStream.range(1, 77).allMatch(i -> padded[i] == 49407));
    }

    @Test
    void plainWordsAreTheirVocabularyEntries() {
        String[] words = {"a", "photo", "of", "cat", "sitting", "on", "red", "sofa", "beautiful"};
        int[] ids = tok.encode(String.join(" ", words));
        assertEquals(words.length + 2, ids.length);
        for (int i = 0; i < words.length; i++) {
            int id = tok.tokenId(words[i] + "</w>");
            assertTrue(id >= 0, words[i]);
            assertEquals(id, ids[i + 1], words[i]);
        }
    }

    @Test
    void caseWhitespaceAndNormalisationDoNotMatter() {
        int[] ref = tok.encode("a red cafe\u0301 sofa");
        assertArrayEquals(ref, tok.encode("A  RED\tCafé\n\n sofa  "));
        assertArrayEquals(ref, tok.encode("a\u00a0red\u3000café\u2028sofa"));
        assertArrayEquals(tok.encode("acat"), tok.encode("a\u0007cat"));
    }

    /** Python's lower(): final sigma by the Unicode rule (Java's String.toLowerCase looks at word boundaries). */
    @Test
    void lowerCasingFollowsPython() {
        assertArrayEquals(tok.encode("οδος σα"), tok.encode("ΟΔΟΣ ΣΑ"));
        assertArrayEquals(tok.encode("oς7"), tok.encode("OΣ7"));
        assertArrayEquals(tok.encode("i\u0307"), tok.encode("\u0130"));
        assertFalse(Arrays.equals(tok.encode("oσ7"), tok.encode("OΣ7")));
    }

    /** The reference's case-insensitive pattern matches U+0345 nowhere, so it vanishes. */
    @Test
    void ypogegrammeniIsSkippedLikeTheReference() {
        assertArrayEquals(tok.encode("a"), tok.encode("a\u0345"));
    }

    @Test
    void cjkIdeographsAreSpacedOutButKanaIsNot() {
        assertArrayEquals(tok.encode("東 京"), tok.encode("東京"));
        assertFalse(Arrays.equals(tok.encode("タ ワー"), tok.encode("タワー")));
    }

    @Test
    void digitsAreSingleTokensAndPunctuationRunsStayTogether() {
        int[] ids = tok.encode("2024");
        assertArrayEquals(new int[]{49406, tok.tokenId("2</w>"), tok.tokenId("0</w>"), tok.tokenId("2</w>"), tok.tokenId("4</w>"), 49407}, ids);
        assertArrayEquals(new int[]{49406, tok.tokenId("!!!</w>"), 49407}, tok.encode("!!!"));
    }

    @Test
    void specialTokenStringsInTheTextAreHonoured() {
        int[] a = tok.encode("a"), b = tok.encode("!!");
        assertArrayEquals(new int[]{49406, a[1], 49407, a[1], 49407}, tok.encode("a<|endoftext|>a"));
        // Split out before the word pattern runs: "!!" stays one word instead of swallowing "<|".
        assertArrayEquals(new int[]{49406, b[1], 49407, 49407}, tok.encode("!!<|endoftext|>"));
        assertArrayEquals(new int[]{49406, 49406, 49407}, tok.encode("<|startoftext|>"));
        // Not split out (case differs) but lower-cased, matched by the word pattern and mapped whole.
        assertArrayEquals(new int[]{49406, a[1], 49407, 49407}, tok.encode("a <|ENDOFTEXT|>"));
    }

    @Test
    void emojiAndUnknownScriptsFallBackToBytes() {
        int[] ids = tok.encode("🚀");
        assertTrue(ids.length >= 3);
        assertTrue(Arrays.stream(ids, 1, ids.length - 1).allMatch(id -> id >= 0 && id < 49406));
    }

    @Test
    void longPromptsAreTruncatedToSeventySevenWithEndToken() {
        String prompt = "a very detailed photo of a cat, ".repeat(20);
        int[] full = tok.encode(prompt);
        assertTrue(full.length > 77);
        assertEquals(full.length, tok.countTokens(prompt));
        int[] padded = tok.encodePadded(prompt, 77);
        assertEquals(77, padded.length);
        assertArrayEquals(Arrays.copyOf(full, 76), Arrays.copyOf(padded, 76));
        assertEquals(49407, padded[76]);
    }

    @Test
    void tokenizerJsonGivesTheSameIds(@TempDir Path dir) throws IOException {
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("vocab", Json.read(TokCheck.clipDir().resolve("vocab.json")));
        List<String> lines = Files.readAllLines(TokCheck.clipDir().resolve("merges.txt"), StandardCharsets.UTF_8);
        model.put("merges", lines.subList(1, lines.size()));
        Path json = dir.resolve("tokenizer.json");
        Files.writeString(json, Json.write(Map.of("model", model)));
        ClipTokenizer fromJson = ClipTokenizer.load(json);
        for (TokCheck t : TokCheck.all()) assertArrayEquals(t.ids("clip_ids"), fromJson.encode(t.text()), t.toString());
    }

    @Test
    void badInputNamesTheFile(@TempDir Path dir) throws IOException {
        var missing = assertThrows(ModelFormatException.class, () -> ClipTokenizer.load(dir));
        assertTrue(missing.getMessage().contains(dir.toString()), missing.getMessage());
        Files.writeString(dir.resolve("vocab.json"), "{\"a\": 1,");
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\na b\n");
        var corrupt = assertThrows(ModelFormatException.class, () -> ClipTokenizer.load(dir));
        assertTrue(corrupt.getMessage().contains("vocab.json"), corrupt.getMessage());
        Files.writeString(dir.resolve("vocab.json"), "{\"<|startoftext|>\": 0, \"<|endoftext|>\": 1}");
        Files.write(dir.resolve("merges.txt"), new byte[]{'#', '\n', 'a', ' ', (byte) 0xFF, '\n'});
        var notUtf8 = assertThrows(ModelFormatException.class, () -> ClipTokenizer.load(dir));
        assertTrue(notUtf8.getMessage().contains("merges.txt"), notUtf8.getMessage());
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\na b\n");
        Files.writeString(dir.resolve("vocab.json"), "{\"a\": 1}");
        var noSpecials = assertThrows(ModelFormatException.class, () -> ClipTokenizer.load(dir));
        assertTrue(noSpecials.getMessage().contains("vocab.json"), noSpecials.getMessage());
    }
}
