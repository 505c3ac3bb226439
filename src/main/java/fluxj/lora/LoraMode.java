package fluxj.lora;

import java.util.Locale;

/** How LoRAs reach float weights (quantized and FP8 weights always take the low-rank path: never re-quantized). */
public enum LoraMode {
    /** Merged when the float32 copies fit the memory plan without streaming, else the low-rank path. */
    AUTO,
    /** Merged once into float32 copies: {@code W' = float32(float64(W) + sum of deltas)}; no per-step cost. */
    MERGE,
    /** {@code y = W x + sum m * alpha/r * up(down x)} beside each matmul: no copies, a little work every step. */
    LOW_RANK;

    public static LoraMode parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "auto" -> AUTO;
            case "merge" -> MERGE;
            case "low-rank", "lowrank", "low_rank" -> LOW_RANK;
            default -> throw new IllegalArgumentException("--lora-mode must be 'auto', 'merge' or 'low-rank', not '" + s + "'");
        };
    }
}
