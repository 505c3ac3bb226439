package fluxj.text;

import fluxj.tensor.ModelFormatException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CLIP's tokenizer exactly as HF transformers' slow {@code CLIPTokenizer} runs without ftfy (what BFL's code
 * uses): special-token strings in the text are honoured, each remaining run is cleaned like BERT's
 * BasicTokenizer (control characters dropped, whitespace to spaces, spaces around CJK ideographs, NFC,
 * lower case, split on whitespace), cut by CLIP's word pattern and byte-level BPE-encoded.
 *
 * <p>The pipeline warns about truncation with {@code countTokens(prompt) > 77}: the model sees
 * {@link #encodePadded} = {@code [bos] + ids[:75] + [eos]}, padded with eos.
 */
public final class ClipTokenizer {
    static final String BOS = "<|startoftext|>";
    static final String EOS = "<|endoftext|>";
    /** HF reads merges.txt lines 1 .. 49152-256-2 (line 0 is the version header). */
    private static final int MAX_MERGES = 49152 - 256 - 2;
    /**
     * CLIP's word pattern. The reference compiles it case-insensitively with Python's {@code regex}, under which
     * U+0345 (which case-folds to a letter) matches no alternative and is skipped: excluded here to do the same.
     */
    private static final Pattern WORD = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}\\u0345]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE);

    private final Bpe bpe;
    private final Map<String, Integer> vocab;
    private final AddedTokens specials;
    private final int bos, eos;

    private ClipTokenizer(Map<String, Integer> vocab, List<String> merges, String source) {
        Integer b = vocab.get(BOS), e = vocab.get(EOS);
        if (b == null || e == null) throw new ModelFormatException(source, "the vocabulary has no " + BOS + " / " + EOS + " token");
        this.vocab = vocab;
        this.bos = b;
        this.eos = e;
        this.bpe = new Bpe(vocab, merges, e, Set.of(BOS, EOS));
        this.specials = new AddedTokens(Map.of(
                BOS, new AddedTokens.Token(b, false, false),
                EOS, new AddedTokens.Token(e, false, false)));
    }

    /** From a folder holding vocab.json + merges.txt, or a tokenizer.json (the file or a folder holding it). */
    public static ClipTokenizer load(Path dirOrFile) {
        try {
            if (Files.isDirectory(dirOrFile)) {
                Path vocab = dirOrFile.resolve("vocab.json"), merges = dirOrFile.resolve("merges.txt");
                if (Files.isRegularFile(vocab) && Files.isRegularFile(merges)) return fromVocabAndMerges(vocab, merges);
                Path json = dirOrFile.resolve("tokenizer.json");
                if (Files.isRegularFile(json)) return fromTokenizerJson(json);
                throw new ModelFormatException(dirOrFile.toString(),
                        "no CLIP tokenizer here (expected vocab.json + merges.txt, or tokenizer.json)");
            }
            if (!Files.exists(dirOrFile)) throw new NoSuchFileException(dirOrFile.toString());
            return fromTokenizerJson(dirOrFile);
        } catch (IOException io) {
            throw new UncheckedIOException(io);
        }
    }

    private static ClipTokenizer fromVocabAndMerges(Path vocabFile, Path mergesFile) throws IOException {
        Map<String, Integer> vocab = readVocab(vocabFile, TokenizerFiles.readJson(vocabFile));
        String text = TokenizerFiles.readUtf8(mergesFile).strip();
        String[] lines = text.split("\n", -1);
        List<String> merges = Arrays.asList(lines).subList(Math.min(1, lines.length), Math.min(lines.length, MAX_MERGES + 1));
        return new ClipTokenizer(vocab, nonEmpty(merges, mergesFile), vocabFile.toString());
    }

    private static ClipTokenizer fromTokenizerJson(Path file) throws IOException {
        if (!(TokenizerFiles.readJson(file) instanceof Map<?, ?> root) || !(root.get("model") instanceof Map<?, ?> model)
                || !"BPE".equals(model.get("type")))
            throw new ModelFormatException(file.toString(), "not a BPE tokenizer.json (expected model.type \"BPE\")");
        Map<String, Integer> vocab = readVocab(file, model.get("vocab"));
        if (!(model.get("merges") instanceof List<?> list))
            throw new ModelFormatException(file.toString(), "model.merges is missing");
        List<String> merges = new ArrayList<>(list.size());
        for (Object m : list) {
            switch (m) {
                case String s -> merges.add(s);
                case List<?> pair when pair.size() == 2 && pair.get(0) instanceof String a && pair.get(1) instanceof String b ->
                        merges.add(a + " " + b);
                default -> throw new ModelFormatException(file.toString(), "model.merges holds a malformed entry: " + m);
            }
        }
        return new ClipTokenizer(vocab, nonEmpty(merges, file), file.toString());
    }

    private static Map<String, Integer> readVocab(Path file, Object json) {
        if (!(json instanceof Map<?, ?> map) || map.isEmpty())
            throw new ModelFormatException(file.toString(), "expected a non-empty token -> id vocabulary object");
        Map<String, Integer> vocab = new HashMap<>(map.size() * 2);
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getValue() instanceof Long id) || id < 0 || id > Integer.MAX_VALUE)
                throw new ModelFormatException(file.toString(), "token " + e.getKey() + " has no valid id");
            vocab.put((String) e.getKey(), id.intValue());
        }
        return vocab;
    }

    private static List<String> nonEmpty(List<String> merges, Path file) {
        if (merges.isEmpty()) throw new ModelFormatException(file.toString(), "no BPE merges");
        return merges;
    }

    /** {@code [bos] + ids + [eos]}, untruncated. */
    public int[] encode(String text) {
        List<Integer> ids = new ArrayList<>();
        ids.add(bos);
        for (AddedTokens.Chunk c : specials.split(text)) {
            if (c.special()) ids.add(c.specialId());
            else tokenizeRun(c.text(), ids);
        }
        ids.add(eos);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /** {@code [bos] + ids[:maxLen-2] + [eos]}: the ids the text model sees, before padding. */
    public int[] encodeTruncated(String text, int maxLen) {
        if (maxLen < 2) throw new IllegalArgumentException("CLIP max length must be at least 2, got " + maxLen);
        int[] full = encode(text);
        if (full.length <= maxLen) return full;
        int[] out = Arrays.copyOf(full, maxLen);
        out[maxLen - 1] = eos;
        return out;
    }

    /** The {@code maxLen} ids the text model sees: {@link #encodeTruncated} padded with eos. */
    public int[] encodePadded(String text, int maxLen) {
        int[] ids = encodeTruncated(text, maxLen);
        int[] out = Arrays.copyOf(ids, maxLen);
        Arrays.fill(out, ids.length, maxLen, eos);
        return out;
    }

    /** Number of ids {@link #encode} gives (with bos/eos); the prompt is truncated when it exceeds the max length. */
    public int countTokens(String text) {
        return encode(text).length;
    }

    /** The id of a vocabulary token, or -1. */
    public int tokenId(String token) {
        return vocab.getOrDefault(token, -1);
    }

    private void tokenizeRun(String run, List<Integer> ids) {
        Matcher m = WORD.matcher(basicClean(run));
        while (m.find()) {
            for (int id : bpe.encodeWord(m.group())) ids.add(id);
        }
    }

    /**
     * BERT's BasicTokenizer as CLIP configures it (lower case, no accent stripping, no punctuation split):
     * the words of the cleaned text joined by single spaces.
     */
    static String basicClean(String text) {
        StringBuilder sb = new StringBuilder(text.length() + 8);
        text.codePoints().forEach(cp -> {
            if (cp == 0 || cp == 0xFFFD || isControl(cp)) return;
            if (isWhitespace(cp)) sb.append(' ');
            else if (isCjkIdeograph(cp)) sb.append(' ').appendCodePoint(cp).append(' ');
            else sb.appendCodePoint(cp);
        });
        String nfc = Normalizer.normalize(sb, Normalizer.Form.NFC);
        StringBuilder out = new StringBuilder(nfc.length());
        for (String word : PyText.split(nfc)) {
            for (String w : PyText.split(PyText.lower(word))) {
                if (!out.isEmpty()) out.append(' ');
                out.append(w);
            }
        }
        return out.toString();
    }

    /** Category C* except tab, newline and carriage return (which count as whitespace). */
    private static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') return false;
        return switch (Character.getType(cp)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE, Character.UNASSIGNED -> true;
            default -> false;
        };
    }

    private static boolean isWhitespace(int cp) {
        return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || Character.getType(cp) == Character.SPACE_SEPARATOR;
    }

    /** The CJK Unified Ideographs blocks BERT spaces out (not kana or hangul). */
    private static boolean isCjkIdeograph(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}
