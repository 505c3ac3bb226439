package fluxj.text;

import java.util.ArrayList;
import java.util.List;

/**
 * Python {@code str} semantics ({@code isspace}, {@code strip}, {@code split()}, {@code lower()}), which the
 * reference tokenizers rely on and which differ from Java's {@code Character.isWhitespace}, {@code String.strip}
 * and {@code String.toLowerCase} (whose final-sigma rule looks at word boundaries instead).
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

    /**
     * {@code s.lower()}: full lower-case mapping (U+0130 is the only character whose mapping is not a single
     * code point), with capital sigma final when a cased letter precedes it and none follows it, skipping
     * case-ignorable characters either way.
     */
    static String lower(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            if (cp == 0x3A3) out.append(finalSigma(s, i) ? '\u03C2' : '\u03C3');
            else if (cp == 0x130) out.append("i\u0307");
            else out.appendCodePoint(Character.toLowerCase(cp));
            i += Character.charCount(cp);
        }
        return out.toString();
    }

    private static boolean finalSigma(String s, int at) {
        int j = at, c = -1;
        while (j > 0) {
            c = s.codePointBefore(j);
            j -= Character.charCount(c);
            if (!isCaseIgnorable(c)) break;
            c = -1;
        }
        if (c < 0 || !isCased(c)) return false;
        for (j = at + 1; j < s.length(); ) {
            c = s.codePointAt(j);
            if (!isCaseIgnorable(c)) return !isCased(c);
            j += Character.charCount(c);
        }
        return true;
    }

    private static boolean isCased(int cp) {
        return Character.isLowerCase(cp) || Character.isUpperCase(cp) || Character.isTitleCase(cp);
    }

    /** Unicode Case_Ignorable: marks, format characters, modifiers and the word-internal punctuation. */
    private static boolean isCaseIgnorable(int cp) {
        return switch (Character.getType(cp)) {
            case Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.FORMAT, Character.MODIFIER_LETTER,
                 Character.MODIFIER_SYMBOL -> true;
            default -> switch (cp) {
                case '\'', '.', ':', 0xB7, 0x387, 0x55F, 0x5F4, 0x2018, 0x2019, 0x2024, 0x2027, 0xFE13, 0xFE52, 0xFE55,
                     0xFF07, 0xFF0E, 0xFF1A -> true;
                default -> false;
            };
        };
    }
}
