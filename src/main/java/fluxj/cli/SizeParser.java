package fluxj.cli;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Byte sizes as users write them: {@code 16G}, {@code 512M}, {@code 1.5GiB}, {@code 2048} (bytes); binary units. */
final class SizeParser {
    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]?)(?:i?b)?");

    private SizeParser() {}

    static long parse(String s) {
        Matcher m = SIZE.matcher(s.strip().toLowerCase(Locale.ROOT));
        if (!m.matches()) throw new IllegalArgumentException("'" + s + "' is not a size; write e.g. 16G, 512M or 1.5G");
        int shift = switch (m.group(2)) {
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            case "t" -> 40;
            default -> 0;
        };
        double v = Double.parseDouble(m.group(1)) * (1L << shift);
        if (v < 1 || v >= Long.MAX_VALUE) throw new IllegalArgumentException("'" + s + "' is not a usable size; write e.g. 16G, 512M or 1.5G");
        return (long) v;
    }
}
