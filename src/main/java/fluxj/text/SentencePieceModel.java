package fluxj.text;

import fluxj.tensor.ModelFormatException;

import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The parts of a sentencepiece unigram model that segmentation needs: the pieces with their scores and types,
 * and the normalizer spec. Read from a {@code spiece.model} ({@code ModelProto}) or from the Unigram model of an
 * HF {@code tokenizer.json}.
 *
 * @param charsMap precompiled normalisation rules (double-array trie + replacement strings); empty = identity
 */
record SentencePieceModel(List<String> pieces, float[] scores, byte[] types, boolean byteFallback,
                          boolean whitespaceAsSuffix, byte[] charsMap, boolean addDummyPrefix,
                          boolean removeExtraWhitespaces, boolean escapeWhitespaces) {
    // ModelProto.SentencePiece.Type
    static final byte NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;
    private static final Pattern BYTE_PIECE = Pattern.compile("<0x[0-9A-F]{2}>");

    // Field numbers of sentencepiece_model.proto.
    private static final int MODEL_PIECES = 1, MODEL_TRAINER_SPEC = 2, MODEL_NORMALIZER_SPEC = 3;
    private static final int PIECE_PIECE = 1, PIECE_SCORE = 2, PIECE_TYPE = 3;
    private static final int TRAINER_MODEL_TYPE = 3, TRAINER_WHITESPACE_AS_SUFFIX = 24, TRAINER_BYTE_FALLBACK = 35;
    private static final int NORM_CHARSMAP = 2, NORM_ADD_DUMMY_PREFIX = 3, NORM_REMOVE_EXTRA_WHITESPACES = 4,
            NORM_ESCAPE_WHITESPACES = 5;
    private static final int UNIGRAM = 1;

    int size() {
        return pieces.size();
    }

    /** Parses a serialized {@code ModelProto}. */
    static SentencePieceModel parse(byte[] data, String file) {
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        List<Byte> types = new ArrayList<>();
        boolean byteFallback = false, suffix = false, dummy = true, removeExtra = true, escape = true;
        long modelType = UNIGRAM;
        byte[] charsMap = new byte[0];
        Protobuf pb = new Protobuf(data, file);
        while (pb.hasNext()) {
            switch (pb.next()) {
                case MODEL_PIECES -> {
                    Protobuf p = pb.message();
                    String piece = "";
                    float score = 0;
                    int type = NORMAL;
                    while (p.hasNext()) {
                        switch (p.next()) {
                            case PIECE_PIECE -> piece = p.string();
                            case PIECE_SCORE -> score = p.float32();
                            case PIECE_TYPE -> type = p.int32();
                            default -> p.skip();
                        }
                    }
                    if (type < NORMAL || type > BYTE)
                        throw new ModelFormatException(file, "piece " + pieces.size() + " has unknown type " + type);
                    pieces.add(piece);
                    scores.add(score);
                    types.add((byte) type);
                }
                case MODEL_TRAINER_SPEC -> {
                    Protobuf t = pb.message();
                    while (t.hasNext()) {
                        switch (t.next()) {
                            case TRAINER_MODEL_TYPE -> modelType = t.int32();
                            case TRAINER_WHITESPACE_AS_SUFFIX -> suffix = t.bool();
                            case TRAINER_BYTE_FALLBACK -> byteFallback = t.bool();
                            default -> t.skip();
                        }
                    }
                }
                case MODEL_NORMALIZER_SPEC -> {
                    Protobuf n = pb.message();
                    while (n.hasNext()) {
                        switch (n.next()) {
                            case NORM_CHARSMAP -> charsMap = n.bytes();
                            case NORM_ADD_DUMMY_PREFIX -> dummy = n.bool();
                            case NORM_REMOVE_EXTRA_WHITESPACES -> removeExtra = n.bool();
                            case NORM_ESCAPE_WHITESPACES -> escape = n.bool();
                            default -> n.skip();
                        }
                    }
                }
                default -> pb.skip();
            }
        }
        if (modelType != UNIGRAM)
            throw new ModelFormatException(file, "sentencepiece model type " + modelType + " is not supported (only unigram, type 1)");
        float[] s = new float[scores.size()];
        byte[] ty = new byte[types.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = scores.get(i);
            ty[i] = types.get(i);
        }
        return validated(new SentencePieceModel(List.copyOf(pieces), s, ty, byteFallback, suffix, charsMap, dummy,
                removeExtra, escape), file);
    }

    /**
     * The Unigram model of an HF {@code tokenizer.json}, typed as sentencepiece would type it: the unk id is
     * UNKNOWN, special added tokens are CONTROL, other added tokens USER_DEFINED, {@code <0xNN>} pieces BYTE when
     * byte fallback is on. The whitespace flags are sentencepiece's defaults, as T5's converted files imply.
     */
    static SentencePieceModel fromTokenizerJson(Map<?, ?> root, String file) {
        if (!(root.get("model") instanceof Map<?, ?> model) || !"Unigram".equals(model.get("type")))
            throw new ModelFormatException(file, "not a sentencepiece tokenizer.json (expected model.type \"Unigram\")");
        if (!(model.get("vocab") instanceof List<?> vocab) || vocab.isEmpty())
            throw new ModelFormatException(file, "model.vocab is missing or empty");
        if (!(model.get("unk_id") instanceof Long unk) || unk < 0 || unk >= vocab.size())
            throw new ModelFormatException(file, "model.unk_id is missing or out of range");
        boolean byteFallback = Boolean.TRUE.equals(model.get("byte_fallback"));
        Set<Long> control = new HashSet<>(), userDefined = new HashSet<>();
        if (root.get("added_tokens") instanceof List<?> added) {
            for (Object o : added) {
                if (o instanceof Map<?, ?> t && t.get("id") instanceof Long id)
                    (Boolean.TRUE.equals(t.get("special")) ? control : userDefined).add(id);
            }
        }
        List<String> pieces = new ArrayList<>(vocab.size());
        float[] scores = new float[vocab.size()];
        byte[] types = new byte[vocab.size()];
        for (int i = 0; i < vocab.size(); i++) {
            if (!(vocab.get(i) instanceof List<?> entry) || entry.size() != 2 || !(entry.get(0) instanceof String piece)
                    || !(entry.get(1) instanceof Number score))
                throw new ModelFormatException(file, "model.vocab[" + i + "] is not a [piece, score] pair");
            pieces.add(piece);
            scores[i] = score.floatValue();
            long id = i;
            types[i] = id == unk ? UNKNOWN
                    : control.contains(id) ? CONTROL
                    : userDefined.contains(id) ? USER_DEFINED
                    : byteFallback && BYTE_PIECE.matcher(piece).matches() ? BYTE
                    : NORMAL;
        }
        return validated(new SentencePieceModel(List.copyOf(pieces), scores, types, byteFallback, false,
                precompiledCharsMap(root.get("normalizer"), file), true, true, true), file);
    }

    /** The {@code Precompiled} normalizer's rules, found directly or inside a {@code Sequence}. */
    private static byte[] precompiledCharsMap(Object normalizer, String file) {
        if (!(normalizer instanceof Map<?, ?> n)) return new byte[0];
        if ("Precompiled".equals(n.get("type")) && n.get("precompiled_charsmap") instanceof String b64) {
            try {
                return Base64.getDecoder().decode(b64);
            } catch (IllegalArgumentException e) {
                throw new ModelFormatException(file, "normalizer.precompiled_charsmap is not valid base64");
            }
        }
        if ("Sequence".equals(n.get("type")) && n.get("normalizers") instanceof List<?> list) {
            for (Object o : list) {
                byte[] found = precompiledCharsMap(o, file);
                if (found.length > 0) return found;
            }
        }
        return new byte[0];
    }

    /** The checks sentencepiece makes when it loads a model. */
    private static SentencePieceModel validated(SentencePieceModel m, String file) {
        if (m.size() == 0) throw new ModelFormatException(file, "the model has no pieces");
        int unknowns = 0, bytes = 0;
        for (int i = 0; i < m.size(); i++) {
            if (m.pieces.get(i).isEmpty()) throw new ModelFormatException(file, "piece " + i + " is empty");
            if (m.types[i] == UNKNOWN) unknowns++;
            if (m.types[i] == BYTE) {
                if (!m.byteFallback) throw new ModelFormatException(file, "byte piece " + m.pieces.get(i) + " although byte_fallback is off");
                if (!BYTE_PIECE.matcher(m.pieces.get(i)).matches()) throw new ModelFormatException(file, "invalid byte piece " + m.pieces.get(i));
                bytes++;
            }
        }
        if (unknowns != 1) throw new ModelFormatException(file, "the model must define exactly one unknown piece, found " + unknowns);
        if (m.byteFallback && bytes != 256) throw new ModelFormatException(file, "byte_fallback needs 256 byte pieces, found " + bytes);
        return m;
    }
}
