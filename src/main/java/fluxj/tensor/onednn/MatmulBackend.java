package fluxj.tensor.onednn;

import java.util.Locale;
import java.util.function.Supplier;

/**
 * Which matmul runs, chosen once per process from the system property {@code fluxj.matmul} (the CLI's
 * {@code --matmul}): {@code java} (default) the pure-Java f32 kernels, exact; {@code onednn} oneDNN's bf16 matmul;
 * {@code auto} oneDNN when the library is present and the CPU has bf16 dot products. Without a usable library
 * the Java path runs. One log line says which path runs and why.
 */
public enum MatmulBackend {
    JAVA, ONEDNN;

    public static final String PROPERTY = "fluxj.matmul";

    /** The backend, why, and whether the user asked for something that could not be had. */
    public record Choice(MatmulBackend backend, String reason, boolean downgraded) {}

    private static final class Holder {
        static final Choice CHOICE = announce(initial());

        private static Choice initial() {
            try {
                return choose(System.getProperty(PROPERTY, "java"), OneDnnLibrary::found);
            } catch (IllegalArgumentException bad) {
                return new Choice(JAVA, "system property " + PROPERTY + ": " + bad.getMessage() + "; pure-Java f32 matmul runs", true);
            }
        }
    }

    public static MatmulBackend current() { return Holder.CHOICE.backend(); }

    public static Choice choice() { return Holder.CHOICE; }

    /** Sets the mode for this process; takes effect when set before the first matmul. */
    public static void select(String mode) {
        System.setProperty(PROPERTY, parse(mode));
    }

    static Choice choose(String mode, Supplier<OneDnnLibrary.Found> library) {
        return switch (parse(mode)) {
            case "java" -> new Choice(JAVA, "pure-Java f32 matmul (--matmul java)", false);
            case "onednn" -> switch (library.get()) {
                case OneDnnLibrary.Missing m -> new Choice(JAVA, "--matmul onednn, but " + m.reason() + "; pure-Java f32 matmul runs", true);
                case OneDnnLibrary.Loaded l -> new Choice(ONEDNN, l.describe() + " (--matmul onednn; "
                        + l.cpuReason() + (l.cpuBf16() ? ")" : ", so it is emulated and likely slower than --matmul java)"), false);
            };
            default -> switch (library.get()) {
                case OneDnnLibrary.Missing m -> new Choice(JAVA, "pure-Java f32 matmul (--matmul auto: " + m.reason() + ")", false);
                case OneDnnLibrary.Loaded l when !l.cpuBf16() ->
                        new Choice(JAVA, "pure-Java f32 matmul (--matmul auto: " + l.cpuReason() + ")", false);
                case OneDnnLibrary.Loaded l -> new Choice(ONEDNN, l.describe() + " (--matmul auto; " + l.cpuReason() + ")", false);
            };
        };
    }

    private static String parse(String mode) {
        String m = mode == null ? "" : mode.trim().toLowerCase(Locale.ROOT);
        if (!m.equals("java") && !m.equals("onednn") && !m.equals("auto")) {
            throw new IllegalArgumentException("--matmul must be java, onednn or auto, not '" + mode + "'");
        }
        return m;
    }

    private static Choice announce(Choice c) {
        System.getLogger("fluxj.matmul").log(c.downgraded() ? System.Logger.Level.WARNING : System.Logger.Level.INFO,
                "matmul: " + c.reason());
        return c;
    }
}
