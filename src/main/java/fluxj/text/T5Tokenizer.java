package fluxj.text;

import fluxj.tensor.ModelFormatException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * T5's tokenizer exactly as HF transformers' slow {@code T5Tokenizer(spiece.model, extra_ids=100, legacy=True)}
 * runs (what BFL's code uses): the special-token strings {@code </s> <pad> <unk> <extra_id_N>} in the text are
 * cut out first ({@code <extra_id_N>} also eats the whitespace around it), every other run goes through
 * sentencepiece on its own (so each run gets its own dummy prefix), then {@code </s>} is appended unless the
 * ids already end with it.
 *
 * <p>The pipeline warns about truncation with {@code countTokens(prompt) > maxLen}: the encoder sees
 * {@link #encodePadded} = {@code ids[:maxLen-1] + [</s>]}, padded with {@code <pad>} (0).
 */
public final class T5Tokenizer {
    private static final int EXTRA_IDS = 100;

    private final SentencePiece sp;
    private final AddedTokens specials;
    private final int eos, pad;

    private T5Tokenizer(SentencePiece sp, String file) {
        this.sp = sp;
        this.eos = reservedId(sp, "</s>", file);
        this.pad = reservedId(sp, "<pad>", file);
        Map<String, AddedTokens.Token> tokens = new HashMap<>();
        tokens.put("</s>", new AddedTokens.Token(eos, false, false));
        tokens.put("<pad>", new AddedTokens.Token(pad, false, false));
        tokens.put("<unk>", new AddedTokens.Token(sp.unkId(), false, false));
        // Sentinels follow the pieces, counting down: <extra_id_0> is the last id (unless the file lists them).
        for (int i = 0; i < EXTRA_IDS; i++) {
            String sentinel = "<extra_id_" + i + ">";
            int id = sp.pieceId(sentinel);
            if (id == sp.unkId()) id = sp.size() + EXTRA_IDS - 1 - i;
            tokens.put(sentinel, new AddedTokens.Token(id, true, true));
        }
        this.specials = new AddedTokens(tokens);
    }

    private static int reservedId(SentencePiece sp, String piece, String file) {
        int id = sp.pieceId(piece);
        if (id == sp.unkId()) throw new ModelFormatException(file, "the model has no " + piece + " piece");
        return id;
    }

    /** From a spiece.model, a tokenizer.json, or a folder holding one of them (spiece.model preferred). */
    public static T5Tokenizer load(Path dirOrFile) {
        try {
            Path file = dirOrFile;
            if (Files.isDirectory(dirOrFile)) {
                file = dirOrFile.resolve("spiece.model");
                if (!Files.isRegularFile(file)) file = dirOrFile.resolve("tokenizer.json");
                if (!Files.isRegularFile(file))
                    throw new ModelFormatException(dirOrFile.toString(), "no T5 tokenizer here (expected spiece.model or tokenizer.json)");
            } else if (!Files.exists(file)) {
                throw new NoSuchFileException(file.toString());
            }
            String name = file.toString();
            SentencePieceModel model = name.endsWith(".json")
                    ? SentencePieceModel.fromTokenizerJson(readJsonObject(file), name)
                    : SentencePieceModel.parse(Files.readAllBytes(file), name);
            return new T5Tokenizer(new SentencePiece(model, name), name);
        } catch (IOException io) {
            throw new UncheckedIOException(io);
        }
    }

    private static Map<?, ?> readJsonObject(Path file) throws IOException {
        if (TokenizerFiles.readJson(file) instanceof Map<?, ?> m) return m;
        throw new ModelFormatException(file.toString(), "expected a JSON object");
    }

    /** The ids ending with {@code </s>} (1), untruncated. */
    public int[] encode(String text) {
        return withEos(tokenize(text));
    }

    /** {@code ids[:maxLen-1] + [</s>]} (no second {@code </s>}): the ids the encoder sees, before padding. */
    public int[] encodeTruncated(String text, int maxLen) {
        if (maxLen < 1) throw new IllegalArgumentException("T5 max length must be at least 1, got " + maxLen);
        List<Integer> ids = tokenize(text);
        return withEos(ids.subList(0, Math.min(ids.size(), maxLen - 1)));
    }

    /** The {@code maxLen} ids the encoder sees: {@link #encodeTruncated} padded with {@code <pad>} (0). */
    public int[] encodePadded(String text, int maxLen) {
        int[] ids = encodeTruncated(text, maxLen);
        int[] out = Arrays.copyOf(ids, maxLen);
        Arrays.fill(out, ids.length, maxLen, pad);
        return out;
    }

    /** Number of ids {@link #encode} gives (with {@code </s>}); the prompt is truncated when it exceeds the max length. */
    public int countTokens(String text) {
        return encode(text).length;
    }

    private List<Integer> tokenize(String text) {
        List<Integer> ids = new ArrayList<>();
        for (AddedTokens.Chunk c : specials.split(text)) {
            if (c.special()) ids.add(c.specialId());
            else sp.encode(c.text(), ids);
        }
        return ids;
    }

    private int[] withEos(List<Integer> ids) {
        boolean ends = !ids.isEmpty() && ids.getLast() == eos;
        int[] out = new int[ids.size() + (ends ? 0 : 1)];
        for (int i = 0; i < ids.size(); i++) out[i] = ids.get(i);
        out[out.length - 1] = eos;
        return out;
    }
}
