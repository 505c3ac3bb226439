package fluxj.pipeline;

/** How transformer weights are held in memory: as stored in the file, or converted to FP8 (E4M3) to save memory. */
public enum WeightDtype {
    STORED, FP8;

    public static WeightDtype parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "stored" -> STORED;
            case "fp8" -> FP8;
            default -> throw new IllegalArgumentException("weight dtype must be 'stored' or 'fp8', got '" + s + "'");
        };
    }

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
