package fluxj.memory;

import java.util.Locale;

/** What dtype the transformer's weight matrices are kept in while resident. */
public enum WeightDtype {
    /** As stored in the file (BF16, F16, FP8...), widened inside the kernels. */
    STORED,
    /** FP8 e4m3 with a per-tensor scale, converted once at load (half the memory of BF16). */
    FP8,
    /** GGUF Q8_0 blocks (8.5 bits a weight, decoded exactly in the kernels), converted once to a cached city96 file. */
    Q8_0;

    public static WeightDtype parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "stored" -> STORED;
            case "fp8", "f8", "fp8_e4m3", "e4m3" -> FP8;
            case "q8_0", "q8" -> Q8_0;
            default -> throw new IllegalArgumentException("--weight-dtype must be 'stored', 'fp8' or 'q8_0', not '" + s + "'");
        };
    }

    /** The option's value naming this dtype. */
    public String label() { return name().toLowerCase(Locale.ROOT); }
}
