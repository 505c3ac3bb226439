package fluxj.text;

import fluxj.tensor.ModelFormatException;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import static fluxj.text.SentencePieceModel.NORMAL;
import static fluxj.text.SentencePieceModel.UNKNOWN;
import static fluxj.text.SentencePieceModel.UNUSED;
import static fluxj.text.SentencePieceModel.USER_DEFINED;

/**
 * sentencepiece's {@code Encode} for unigram models: normalise, then the best segmentation by Viterbi over the
 * piece scores (the "optimized" encoder of sentencepiece 0.1.9x/0.2: best path per UTF-8 end position), where a
 * character no piece covers becomes an unknown piece scored {@code min score - 10}; runs of unknowns merge into
 * one, or become byte pieces when the model has byte fallback.
 */
final class SentencePiece {
    private static final float UNK_PENALTY = 10.0f;

    private final SentencePieceModel model;
    private final SpmNormalizer normalizer;
    /** NORMAL, USER_DEFINED and UNUSED pieces, the ones segmentation may match. */
    private final ByteTrie pieces;
    /** CONTROL, UNKNOWN and BYTE pieces, found by {@link #pieceId} only. */
    private final Map<String, Integer> reserved = new HashMap<>();
    private final int unkId;
    private final float minScore, maxScore;

    SentencePiece(SentencePieceModel model, String file) {
        this.model = model;
        List<ByteTrie.Entry> matchable = new ArrayList<>(), userDefined = new ArrayList<>();
        Set<String> matchableSeen = new HashSet<>();
        float min = Float.MAX_VALUE, max = Float.MIN_NORMAL; // C's FLT_MAX / FLT_MIN, as the reference starts
        int unk = -1;
        for (int id = 0; id < model.size(); id++) {
            String piece = model.pieces().get(id);
            byte type = model.types()[id];
            boolean isMatchable = type == NORMAL || type == USER_DEFINED || type == UNUSED;
            if (!(isMatchable ? matchableSeen.add(piece) : reserved.putIfAbsent(piece, id) == null))
                throw new ModelFormatException(file, "piece " + piece + " is defined twice");
            if (isMatchable) matchable.add(new ByteTrie.Entry(piece.getBytes(StandardCharsets.UTF_8), id));
            if (type == USER_DEFINED) userDefined.add(new ByteTrie.Entry(piece.getBytes(StandardCharsets.UTF_8), id));
            if (type == UNKNOWN) unk = id;
            if (type == NORMAL) {
                min = Math.min(min, model.scores()[id]);
                max = Math.max(max, model.scores()[id]);
            }
        }
        this.pieces = new ByteTrie(matchable);
        this.unkId = unk;
        this.minScore = min;
        this.maxScore = max;
        this.normalizer = new SpmNormalizer(model, userDefined.isEmpty() ? null : new ByteTrie(userDefined), file);
    }

    int size() {
        return model.size();
    }

    int unkId() {
        return unkId;
    }

    /** sentencepiece's {@code PieceToId}: reserved pieces first, then the others, else the unknown id. */
    int pieceId(String piece) {
        Integer r = reserved.get(piece);
        if (r != null) return r;
        int id = pieces.get(piece.getBytes(StandardCharsets.UTF_8));
        return id < 0 ? unkId : id;
    }

    /** The ids of {@code text}, as sentencepiece encodes it (no bos/eos). */
    void encode(String text, List<Integer> ids) {
        byte[] normalized = normalizer.normalize(text.getBytes(StandardCharsets.UTF_8));
        int n = normalized.length;
        if (n == 0) return;
        // best[e]: score of the best path covering normalized[0, e); start[e], id[e]: its last piece.
        float[] best = new float[n + 1];
        int[] start = new int[n + 1], id = new int[n + 1];
        Arrays.fill(start, -1);
        float unkScore = minScore - UNK_PENALTY;
        for (int from = 0; from < n; ) {
            int charLen = Math.max(1, Math.min(SpmNormalizer.utf8Length(normalized[from]), n - from));
            float here = best[from];
            boolean coversOneChar = false;
            int node = ByteTrie.ROOT;
            for (int to = from + 1; to <= n; to++) {
                node = pieces.child(node, normalized[to - 1]);
                if (node < 0) break;
                int piece = pieces.value(node);
                if (piece < 0 || model.types()[piece] == UNUSED) continue;
                int length = to - from;
                // As in the reference, the candidate is a double (the user-defined bonus is a double expression)
                // compared against the stored float, then stored as float.
                double score = model.types()[piece] == USER_DEFINED
                        ? (double) ((float) length * maxScore) - 0.1 : model.scores()[piece];
                double candidate = score + here;
                if (start[to] == -1 || candidate > best[to]) {
                    best[to] = (float) candidate;
                    start[to] = from;
                    id[to] = piece;
                }
                if (length == charLen) coversOneChar = true;
            }
            if (!coversOneChar) {
                int to = from + charLen;
                float candidate = unkScore + here;
                if (start[to] == -1 || candidate > best[to]) {
                    best[to] = candidate;
                    start[to] = from;
                    id[to] = unkId;
                }
            }
            from += charLen;
        }
        List<int[]> path = new ArrayList<>();
        for (int end = n; end > 0; end = start[end]) path.add(new int[]{start[end], end, id[end]});
        boolean prevUnknown = false;
        for (int k = path.size() - 1; k >= 0; k--) {
            int[] seg = path.get(k);
            boolean unknown = seg[2] == unkId;
            if (unknown && model.byteFallback()) {
                for (int b = seg[0]; b < seg[1]; b++) ids.add(pieceId(String.format(Locale.ROOT, "<0x%02X>", normalized[b] & 0xFF)));
            } else if (!(unknown && prevUnknown)) {
                ids.add(seg[2]);
            }
            prevUnknown = unknown;
        }
    }
}
