package fluxj.text;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-level BPE with an end-of-word suffix, as CLIP uses it: a word's UTF-8 bytes are mapped to printable
 * characters (GPT-2's {@code bytes_to_unicode}), the last symbol gets {@code </w>}, then the lowest-ranked
 * adjacent pair is merged everywhere until no pair has a rank. Results are cached per word.
 */
final class Bpe {
    static final String END_OF_WORD = "</w>";
    /** A bound on the cache so adversarial input cannot grow it without limit. */
    private static final int CACHE_LIMIT = 100_000;
    private static final char[] BYTE_TO_CHAR = byteToChar();

    private final Map<String, Integer> vocab;
    private final Map<String, Integer> ranks;
    private final int unkId;
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param ranks merge rank per pair, keyed {@code "first second"}
     * @param whole words that map to their own vocabulary entry unmerged and without {@code </w>} (the reference
     *              seeds its cache with CLIP's special tokens, which the word pattern can still produce)
     */
    Bpe(Map<String, Integer> vocab, Map<String, Integer> ranks, int unkId, Set<String> whole) {
        this.vocab = vocab;
        this.ranks = ranks;
        this.unkId = unkId;
        for (String w : whole) cache.put(w, new int[]{vocab.getOrDefault(w, unkId)});
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

    private int[] merge(String word) {
        byte[] utf8 = word.getBytes(StandardCharsets.UTF_8);
        List<String> symbols = new ArrayList<>(utf8.length);
        for (byte b : utf8) symbols.add(String.valueOf(BYTE_TO_CHAR[b & 0xFF]));
        int last = symbols.size() - 1;
        symbols.set(last, symbols.get(last) + END_OF_WORD);
        while (symbols.size() > 1) {
            int bestRank = Integer.MAX_VALUE;
            String first = null, second = null;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Integer r = ranks.get(symbols.get(i) + " " + symbols.get(i + 1));
                if (r != null && r < bestRank) {
                    bestRank = r;
                    first = symbols.get(i);
                    second = symbols.get(i + 1);
                }
            }
            if (first == null) break;
            List<String> merged = new ArrayList<>(symbols.size());
            for (int i = 0; i < symbols.size(); i++) {
                if (i + 1 < symbols.size() && symbols.get(i).equals(first) && symbols.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i++;
                } else {
                    merged.add(symbols.get(i));
                }
            }
            symbols = merged;
        }
        int[] ids = new int[symbols.size()];
        for (int i = 0; i < ids.length; i++) ids[i] = vocab.getOrDefault(symbols.get(i), unkId);
        return ids;
    }
}
