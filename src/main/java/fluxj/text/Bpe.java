package fluxj.text;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-level BPE with an end-of-word suffix, as CLIP uses it: a word's UTF-8 bytes are mapped to printable
 * characters (GPT-2's {@code bytes_to_unicode}), the last symbol gets {@code </w>}, then the lowest-ranked
 * adjacent pair is merged everywhere (left to right) until no pair has a rank. Results are cached per word.
 *
 * <p>Symbol strings are interned as ints and each adjacent pair's rank is kept per position and refreshed only
 * next to a merge, so a step costs a scan of ints.
 */
final class Bpe {
    static final String END_OF_WORD = "</w>";
    /** A bound on the cache so adversarial input cannot grow it without limit. */
    private static final int CACHE_LIMIT = 100_000;
    private static final char[] BYTE_TO_CHAR = byteToChar();

    /** Symbol string -> symbol id, and symbol id -> token id (the unknown id for strings outside the vocabulary). */
    private final Map<String, Integer> symbols = new HashMap<>();
    private int[] tokenOf = new int[1024];
    /** (first << 32 | second) -> (rank << 32 | merged symbol). */
    private final Map<Long, Long> merges = new HashMap<>();
    private final int[] byteSymbol = new int[256], byteSymbolEnd = new int[256];
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param merges the merge list in rank order, each {@code "first second"}; a repeated pair keeps its last
     *               rank, as the reference's dict does
     * @param whole  words that map to their own vocabulary entry unmerged and without {@code </w>} (the reference
     *               seeds its cache with CLIP's special tokens, which the word pattern can still produce)
     */
    Bpe(Map<String, Integer> vocab, List<String> merges, int unkId, Set<String> whole) {
        for (int rank = 0; rank < merges.size(); rank++) {
            List<String> pair = PyText.split(merges.get(rank));
            if (pair.size() != 2) continue;
            int a = intern(pair.get(0), vocab, unkId), b = intern(pair.get(1), vocab, unkId);
            int ab = intern(pair.get(0) + pair.get(1), vocab, unkId);
            this.merges.put(key(a, b), (long) rank << 32 | ab);
        }
        for (int b = 0; b < 256; b++) {
            byteSymbol[b] = intern(String.valueOf(BYTE_TO_CHAR[b]), vocab, unkId);
            byteSymbolEnd[b] = intern(BYTE_TO_CHAR[b] + END_OF_WORD, vocab, unkId);
        }
        for (String w : whole) cache.put(w, new int[]{vocab.getOrDefault(w, unkId)});
    }

    private int intern(String s, Map<String, Integer> vocab, int unkId) {
        Integer known = symbols.get(s);
        if (known != null) return known;
        int id = symbols.size();
        symbols.put(s, id);
        if (id == tokenOf.length) tokenOf = Arrays.copyOf(tokenOf, id * 2);
        tokenOf[id] = vocab.getOrDefault(s, unkId);
        return id;
    }

    private static long key(int a, int b) {
        return (long) a << 32 | (b & 0xFFFFFFFFL);
    }

    /** GPT-2's reversible byte-to-character table: printable Latin-1 bytes map to themselves, others to 256+n. */
    private static char[] byteToChar() {
        char[] table = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char) b : (char) (256 + n++);
        }
        return table;
    }

    /** The ids of one pre-tokenised word. */
    int[] encodeWord(String word) {
        int[] cached = cache.get(word);
        if (cached != null) return cached;
        int[] ids = merge(word);
        if (cache.size() < CACHE_LIMIT) cache.put(word, ids);
        return ids;
    }

    private int rank(int a, int b) {
        Long m = merges.get(key(a, b));
        return m == null ? Integer.MAX_VALUE : (int) (m >>> 32);
    }

    private int[] merge(String word) {
        byte[] utf8 = word.getBytes(StandardCharsets.UTF_8);
        int n = utf8.length;
        int[] sym = new int[n], rank = new int[n];
        boolean[] fresh = new boolean[n];
        for (int i = 0; i < n; i++) sym[i] = i == n - 1 ? byteSymbolEnd[utf8[i] & 0xFF] : byteSymbol[utf8[i] & 0xFF];
        for (int i = 0; i + 1 < n; i++) rank[i] = rank(sym[i], sym[i + 1]);
        while (n > 1) {
            int best = Integer.MAX_VALUE, at = -1;
            for (int i = 0; i + 1 < n; i++) {
                if (rank[i] < best) {
                    best = rank[i];
                    at = i;
                }
            }
            if (at < 0) break;
            int first = sym[at], second = sym[at + 1];
            int merged = (int) (long) merges.get(key(first, second));
            int m = 0;
            for (int i = 0; i < n; m++) {
                if (i + 1 < n && sym[i] == first && sym[i + 1] == second) {
                    sym[m] = merged;
                    fresh[m] = true;
                    i += 2;
                } else {
                    sym[m] = sym[i];
                    rank[m] = rank[i];
                    fresh[m] = false;
                    i++;
                }
            }
            n = m;
            // A pair's rank changes only where one of its two symbols is new.
            for (int i = 0; i + 1 < n; i++) if (fresh[i] || fresh[i + 1]) rank[i] = rank(sym[i], sym[i + 1]);
        }
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = tokenOf[sym[i]];
        return ids;
    }
}
