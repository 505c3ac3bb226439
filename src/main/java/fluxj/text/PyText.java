package fluxj.text;

import java.util.ArrayList;
import java.util.List;

/**
 * Python {@code str} whitespace semantics ({@code isspace}, {@code strip}, {@code split()}), which the reference
 * tokenizers rely on and which differ from Java's {@code Character.isWhitespace} / {@code String.strip}.
 */
final class PyText {
    private PyText() {}

    /** Python's {@code str.isspace()} for one code point: bidi class WS, B or S, or category Zs. */
    static boolean isSpace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F
                || cp == 0x3000;
    }

    /** {@code s.lstrip()}. */
    static String lstrip(String s) {
        int i = 0;
        while (i < s.length()) {
            int cp = s.codePointAt(i);
            if (!isSpace(cp)) break;
            i += Character.charCount(cp);
        }
        return s.substring(i);
    }

    /** {@code s.rstrip()}. */
    static String rstrip(String s) {
        int j = s.length();
        while (j > 0) {
            int cp = s.codePointBefore(j);
            if (!isSpace(cp)) break;
            j -= Character.charCount(cp);
        }
        return s.substring(0, j);
    }

    /** {@code s.split()}: the runs of non-whitespace, in order. */
    static List<String> split(String s) {
        List<String> out = new ArrayList<>();
        int start = -1;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            if (isSpace(cp)) {
                if (start >= 0) out.add(s.substring(start, i));
                start = -1;
            } else if (start < 0) {
                start = i;
            }
            i += Character.charCount(cp);
        }
        if (start >= 0) out.add(s.substring(start));
        return out;
    }
}
