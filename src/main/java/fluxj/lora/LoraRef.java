package fluxj.lora;

import java.nio.file.Path;
import java.util.Objects;
import java.util.regex.Pattern;

/** A LoRA file applied with a strength {@code weight} (1 = as trained, negative allowed). */
public record LoraRef(Path file, double weight) {
    private static final Pattern DECIMAL = Pattern.compile("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?");

    public LoraRef {
        Objects.requireNonNull(file, "file");
        if (!Double.isFinite(weight)) throw new IllegalArgumentException("LoRA weight must be a finite number, got " + weight + " for " + file);
    }

    /**
     * {@code PATH[:WEIGHT]}: the weight is the text after the last ':' when that is a decimal number, otherwise the
     * whole argument is the path (weight 1).
     */
    public static LoraRef parse(String arg) {
        int colon = arg.lastIndexOf(':');
        if (colon > 0 && DECIMAL.matcher(arg.substring(colon + 1).strip()).matches()) {
            return new LoraRef(Path.of(arg.substring(0, colon)), Double.parseDouble(arg.substring(colon + 1).strip()));
        }
        if (arg.isEmpty()) throw new IllegalArgumentException("--lora needs a file: PATH[:WEIGHT]");
        return new LoraRef(Path.of(arg), 1.0);
    }

    /** Whether {@code text} is a LoRA weight as {@link #parse} reads one. */
    static boolean isDecimal(String text) { return DECIMAL.matcher(text).matches(); }

    /** The file name without {@code .safetensors}: the name A1111 and its prompt tags use. */
    public String name() {
        String n = file.getFileName().toString();
        return n.endsWith(".safetensors") ? n.substring(0, n.length() - ".safetensors".length()) : n;
    }
}
