package fluxj.text;

import fluxj.tensor.ModelFormatException;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * sentencepiece's normalizer on UTF-8 bytes: the model's precompiled rules (for T5, nmt_nfkc = NFKC plus the
 * NMT clean-ups) replace the longest matching prefix, user-defined symbols pass through untouched, then
 * whitespace is trimmed and collapsed, a dummy prefix space added and spaces written as U+2581.
 *
 * <p>The rules are a darts-clone double array: 32-bit units (bit 8 = has leaf, bits 0-7 + bit 31 = label,
 * bits 10-31 shifted by bit 9 = offset, a leaf's low 31 bits = value), whose values point into a pool of
 * NUL-terminated replacement strings.
 */
final class SpmNormalizer {
    private static final byte[] SPACE_SYMBOL = "\u2581".getBytes(StandardCharsets.UTF_8);
    private static final byte[] REPLACEMENT = "\uFFFD".getBytes(StandardCharsets.UTF_8);

    private final int[] units;
    private final byte[] pool;
    private final ByteTrie userDefined;
    private final boolean addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces, whitespaceAsSuffix;
    private final String file;

    SpmNormalizer(SentencePieceModel m, ByteTrie userDefined, String file) {
        this.file = file;
        this.userDefined = userDefined;
        this.addDummyPrefix = m.addDummyPrefix();
        this.removeExtraWhitespaces = m.removeExtraWhitespaces();
        this.escapeWhitespaces = m.escapeWhitespaces();
        this.whitespaceAsSuffix = m.whitespaceAsSuffix();
        byte[] blob = m.charsMap();
        if (blob.length == 0) {
            units = new int[0];
            pool = new byte[0];
            return;
        }
        if (blob.length <= 4) throw brokenRules("shorter than its header");
        long trieBytes = le32(blob, 0) & 0xFFFFFFFFL;
        if (trieBytes >= blob.length || trieBytes % 4 != 0 || trieBytes == 0) throw brokenRules("trie size " + trieBytes + " does not fit");
        units = new int[(int) (trieBytes / 4)];
        for (int i = 0; i < units.length; i++) units[i] = le32(blob, 4 + 4 * i);
        pool = Arrays.copyOfRange(blob, 4 + (int) trieBytes, blob.length);
    }

    private static int le32(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF) << 16 | (b[at + 3] & 0xFF) << 24;
    }

    private ModelFormatException brokenRules(String problem) {
        return new ModelFormatException(file, "corrupt precompiled_charsmap (" + problem + ")");
    }

    /** The normalized form of UTF-8 {@code input} (which must be well-formed, as Java strings encode). */
    byte[] normalize(byte[] input) {
        int n = input.length, pos = 0;
        if (n == 0) return input;
        Span p = new Span();
        if (removeExtraWhitespaces) {
            while (pos < n) {
                prefix(input, pos, p);
                if (!(p.len == 1 && p.src[p.off] == ' ')) break;
                pos += p.consumed;
            }
        }
        if (pos == n) return new byte[0];
        ByteArrayOutputStream out = new ByteArrayOutputStream(n * 3);
        if (!whitespaceAsSuffix && addDummyPrefix) addSpace(out);
        boolean prevSpace = removeExtraWhitespaces;
        while (pos < n) {
            prefix(input, pos, p);
            int from = p.off, to = p.off + p.len;
            while (prevSpace && from < to && p.src[from] == ' ') from++;
            if (from < to) {
                for (int i = from; i < to; i++) {
                    if (escapeWhitespaces && p.src[i] == ' ') out.writeBytes(SPACE_SYMBOL);
                    else out.write(p.src[i]);
                }
                prevSpace = p.src[to - 1] == ' ';
            }
            pos += p.consumed;
            if (!removeExtraWhitespaces) prevSpace = false;
        }
        byte[] result = out.toByteArray();
        int len = result.length;
        if (removeExtraWhitespaces) {
            byte[] space = escapeWhitespaces ? SPACE_SYMBOL : new byte[]{' '};
            while (len >= space.length && Arrays.equals(result, len - space.length, len, space, 0, space.length)) len -= space.length;
        }
        result = Arrays.copyOf(result, len);
        if (whitespaceAsSuffix && addDummyPrefix) {
            ByteArrayOutputStream withSuffix = new ByteArrayOutputStream(len + 3);
            withSuffix.writeBytes(result);
            addSpace(withSuffix);
            result = withSuffix.toByteArray();
        }
        return result;
    }

    private void addSpace(ByteArrayOutputStream out) {
        if (escapeWhitespaces) out.writeBytes(SPACE_SYMBOL);
        else out.write(' ');
    }

    /** What one normalisation step produces: {@code src[off, off+len)}, having consumed {@code consumed} input bytes. */
    private static final class Span {
        byte[] src;
        int off, len, consumed;

        void set(byte[] src, int off, int len, int consumed) {
            this.src = src;
            this.off = off;
            this.len = len;
            this.consumed = consumed;
        }
    }

    /** One step: a user-defined symbol as-is, else the longest rule, else one character as-is. */
    private void prefix(byte[] in, int pos, Span out) {
        if (userDefined != null) {
            int len = userDefined.longestPrefix(in, pos, in.length);
            if (len > 0) {
                out.set(in, pos, len, len);
                return;
            }
        }
        int longest = 0, value = 0;
        if (units.length > 0) {
            int node = offset(units[0]);
            for (int i = pos; i < in.length; i++) {
                int c = in[i] & 0xFF;
                node ^= c;
                if (node < 0 || node >= units.length) break;
                int unit = units[node];
                if ((unit & 0x800000FF) != c) break;
                node ^= offset(unit);
                if ((unit >>> 8 & 1) == 1) {
                    if (node < 0 || node >= units.length) throw brokenRules("leaf outside the trie");
                    longest = i + 1 - pos;
                    value = units[node] & 0x7FFFFFFF;
                }
            }
        }
        if (longest > 0) {
            int end = value;
            while (end < pool.length && pool[end] != 0) end++;
            if (value >= pool.length || end == pool.length) throw brokenRules("replacement " + value + " outside the string pool");
            out.set(pool, value, end - value, longest);
            return;
        }
        int len = Math.min(utf8Length(in[pos]), in.length - pos);
        if (len == 0) out.set(REPLACEMENT, 0, REPLACEMENT.length, 1);
        else out.set(in, pos, len, len);
    }

    private static int offset(int unit) {
        return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
    }

    /** Length of the UTF-8 sequence a lead byte starts, 0 for a stray continuation byte. */
    static int utf8Length(byte lead) {
        int b = lead & 0xFF;
        return b < 0x80 ? 1 : b < 0xC0 ? 0 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    }
}
