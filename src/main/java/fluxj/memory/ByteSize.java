package fluxj.memory;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Byte counts as users write them ("16G", "512M", "1.5GiB", "2000000") and as the plan prints them. */
public final class ByteSize {
    private static final Pattern P = Pattern.compile("(?i)\\s*(\\d+(?:\\.\\d+)?)\\s*([kmgt]?)(i?b)?\\s*");

    private ByteSize() {}

    /** Parses a size with an optional binary suffix K/M/G/T (powers of 1024, as memory is sold to users). */
    public static long parse(String s) {
        Matcher m = P.matcher(s == null ? "" : s);
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + s + "' is not a memory size; write it like 16G, 512M or 1.5G");
        }
        double v = Double.parseDouble(m.group(1));
        int shift = switch (m.group(2).toUpperCase(Locale.ROOT)) {
            case "K" -> 10; case "M" -> 20; case "G" -> 30; case "T" -> 40; default -> 0;
        };
        double bytes = v * (1L << shift);
        if (bytes < 1 || bytes > Long.MAX_VALUE / 2) throw new IllegalArgumentException("memory size '" + s + "' is out of range");
        return (long) bytes;
    }

    public static String format(long bytes) {
        if (bytes >= 1L << 30) return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
        if (bytes >= 1L << 20) return String.format(Locale.ROOT, "%.0f MiB", bytes / (double) (1L << 20));
        return String.format(Locale.ROOT, "%.0f KiB", bytes / 1024.0);
    }
}
