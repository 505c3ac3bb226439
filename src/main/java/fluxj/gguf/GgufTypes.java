package fluxj.gguf;

import fluxj.tensor.DType;

/** ggml's tensor type ids and the {@link DType} each readable one decodes as. */
public final class GgufTypes {
    private GgufTypes() {}

    /** ggml's names of its type ids (gaps: ids ggml removed); index = id. */
    private static final String[] NAMES = {"F32", "F16", "Q4_0", "Q4_1", null, null, "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K",
            "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
            "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16", null, null, null, "TQ1_0", "TQ2_0", null, null, null, "MXFP4"};

    /** The dtype of ggml type {@code id}, or null when fluxj cannot read it (see {@link #name}). */
    public static DType dtype(long id) {
        return switch ((int) Math.min(id, Integer.MAX_VALUE)) {
            case 0 -> DType.F32;
            case 1 -> DType.F16;
            case 30 -> DType.BF16;
            case 2 -> DType.Q4_0;
            case 3 -> DType.Q4_1;
            case 6 -> DType.Q5_0;
            case 7 -> DType.Q5_1;
            case 8 -> DType.Q8_0;
            case 10 -> DType.Q2_K;
            case 11 -> DType.Q3_K;
            case 12 -> DType.Q4_K;
            case 13 -> DType.Q5_K;
            case 14 -> DType.Q6_K;
            case 20 -> DType.IQ4_NL;
            case 23 -> DType.IQ4_XS;
            case 24 -> DType.I8;
            case 25 -> DType.I16;
            case 26 -> DType.I32;
            case 27 -> DType.I64;
            case 28 -> DType.F64;
            default -> null;
        };
    }

    /** ggml's name of type {@code id}, or null when ggml defines no such type. */
    public static String name(long id) {
        return id >= 0 && id < NAMES.length ? NAMES[(int) id] : null;
    }

    /** The ggml type id of a dtype; only dtypes {@link #dtype} returns have one. */
    public static int id(DType dt) {
        for (int i = 0; i < NAMES.length; i++) if (dtype(i) == dt) return i;
        throw new IllegalArgumentException(dt + " has no GGUF type");
    }
}
