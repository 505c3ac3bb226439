package fluxj.image;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * VP8L's LZ77 backward references and colour cache (RFC 9649, 5.2.2 and 5.2.3) for an ARGB image in scan order.
 * The parse is greedy: at each pixel the longest earlier match among the nearest neighbours (left, above, above
 * left and right: the cheapest distance codes) and a hash chain of pixel pairs walked at most {@value #CHAIN}
 * steps, taken when its estimated bits are fewer than those of its pixels as literals. Bounded effort keeps the
 * encoder linear in the pixels. The colour cache size is then the one of least estimated entropy.
 */
final class Backrefs {
    static final int MAX_LENGTH = 4096;
    /** The largest distance the 40 distance prefix codes reach (2^20), less the 120 neighbourhood codes. */
    static final int MAX_DISTANCE = (1 << 20) - 120;
    static final int MAX_CACHE_BITS = 10;
    /** Chain steps per pixel, and the match length that ends the search early. */
    private static final int CHAIN = 32, GOOD = 512;
    /** Guessed bits of a length or distance prefix symbol while their real statistics are unknown. */
    private static final int LENGTH_SYMBOL_BITS = 5, NEAR_SYMBOL_BITS = 3, FAR_SYMBOL_BITS = 8;

    /** (xi, yi) of distance codes 1..120 (RFC 9649, 5.2.2): xi pixels left of and yi rows above the current one. */
    private static final byte[] NEIGHBOURHOOD = {
            0, 1, 1, 0, 1, 1, -1, 1, 0, 2, 2, 0, 1, 2, -1, 2, 2, 1, -2, 1, 2, 2, -2, 2, 0, 3, 3, 0, 1, 3, -1, 3,
            3, 1, -3, 1, 2, 3, -2, 3, 3, 2, -3, 2, 0, 4, 4, 0, 1, 4, -1, 4, 4, 1, -4, 1, 3, 3, -3, 3, 2, 4, -2, 4,
            4, 2, -4, 2, 0, 5, 3, 4, -3, 4, 4, 3, -4, 3, 5, 0, 1, 5, -1, 5, 5, 1, -5, 1, 2, 5, -2, 5, 5, 2, -5, 2,
            4, 4, -4, 4, 3, 5, -3, 5, 5, 3, -5, 3, 0, 6, 6, 0, 1, 6, -1, 6, 6, 1, -6, 1, 2, 6, -2, 6, 6, 2, -6, 2,
            4, 5, -4, 5, 5, 4, -5, 4, 3, 6, -3, 6, 6, 3, -6, 3, 0, 7, 7, 0, 1, 7, -1, 7, 5, 5, -5, 5, 7, 1, -7, 1,
            4, 6, -4, 6, 6, 4, -6, 4, 2, 7, -2, 7, 7, 2, -7, 2, 3, 7, -3, 7, 7, 3, -7, 3, 5, 6, -5, 6, 6, 5, -6, 5,
            8, 0, 4, 7, -4, 7, 7, 4, -7, 4, 8, 1, 8, 2, 6, 6, -6, 6, 8, 3, 5, 7, -5, 7, 7, 5, -7, 5, 8, 4, 6, 7,
            -6, 7, 7, 6, -7, 6, 8, 5, 7, 7, -7, 7, 8, 6, 8, 7};

    private Backrefs() {}

    /**
     * A parse: {@code count} tokens, each a literal ({@code length} 0, {@code value} the pixel), a copy
     * ({@code length} pixels from {@code value} pixels back) or, after {@link #useCache}, a colour cache hit
     * ({@code length} -1, {@code value} the cache index).
     */
    record Tokens(int[] length, int[] value, int count) {}

    /** The distance code of each scan-order distance for images {@code width} wide (the smallest code that decodes to it). */
    static final class DistanceCodes {
        private final Map<Integer, Integer> near = new HashMap<>();

        DistanceCodes(int width) {
            for (int code = NEIGHBOURHOOD.length / 2; code >= 1; code--) {
                int d = NEIGHBOURHOOD[2 * code - 2] + NEIGHBOURHOOD[2 * code - 1] * width;
                near.put(Math.max(d, 1), code);
            }
        }

        int code(int distance) {
            Integer c = near.get(distance);
            return c != null ? c : distance + 120;
        }
    }

    /** The prefix symbol of a length or distance code {@code v} (1-based; RFC 9649, 5.2.2). */
    static int prefix(int v) {
        int d = v - 1;
        if (d < 4) return d;
        int top = 31 - Integer.numberOfLeadingZeros(d);
        return 2 * top + (d >>> (top - 1) & 1);
    }

    static int extraBits(int prefix) {
        return prefix < 4 ? 0 : (prefix - 2) >> 1;
    }

    /** The value of the extra bits that follow {@link #prefix}{@code (v)}. */
    static int extraValue(int v, int prefix) {
        return prefix < 4 ? 0 : v - 1 - ((2 + (prefix & 1)) << extraBits(prefix));
    }

    static Tokens parse(int[] a, int w) {
        int n = a.length;
        int[] length = new int[n], value = new int[n];
        int hashBits = Math.clamp(33 - Integer.numberOfLeadingZeros(n), 8, 18);
        int[] head = new int[1 << hashBits], prev = new int[n];
        Arrays.fill(head, -1);
        float[][] literal = literalBits(a);
        DistanceCodes codes = new DistanceCodes(w);
        int[] near = w > 1 ? new int[] {1, w, w + 1, w - 1} : new int[] {1};
        int count = 0;
        for (int i = 0; i < n; ) {
            int limit = Math.min(MAX_LENGTH, n - i), bestLen = 0, bestDist = 0;
            if (limit >= 2) {
                for (int d : near) {
                    if (d > i) continue;
                    int l = matchLength(a, i - d, i, limit);
                    if (l > bestLen) {
                        bestLen = l;
                        bestDist = d;
                    }
                }
                for (int j = head[hash(a, i, hashBits)], steps = CHAIN; j >= 0 && steps > 0 && bestLen < Math.min(GOOD, limit); j = prev[j], steps--) {
                    int d = i - j;
                    if (d > MAX_DISTANCE) break;
                    if (a[j + bestLen] != a[i + bestLen]) continue;
                    int l = matchLength(a, j, i, limit);
                    if (l > bestLen) {
                        bestLen = l;
                        bestDist = d;
                    }
                }
            }
            int take = 1;
            if (bestLen >= 2 && copyBits(bestLen, codes.code(bestDist)) < literalBits(a, i, bestLen, literal)) {
                take = bestLen;
                length[count] = bestLen;
                value[count++] = bestDist;
            } else {
                value[count++] = a[i];
            }
            for (int end = i + take; i < end; i++) {
                if (i + 1 >= n) continue;
                int h = hash(a, i, hashBits);
                prev[i] = head[h];
                head[h] = i;
            }
        }
        return new Tokens(length, value, count);
    }

    private static int hash(int[] a, int i, int bits) {
        return (a[i] * 0x1e35a7bd + a[i + 1] * 0x9e3779b1) >>> (32 - bits);
    }

    private static int matchLength(int[] a, int from, int at, int limit) {
        int l = 0;
        while (l < limit && a[from + l] == a[at + l]) l++;
        return l;
    }

    /** Bits of each channel value as a literal, from the image's own statistics (alpha, red, green, blue). */
    private static float[][] literalBits(int[] a) {
        int[][] counts = new int[4][256];
        for (int p : a) for (int c = 0; c < 4; c++) counts[c][p >>> 24 - 8 * c & 0xff]++;
        float[][] bits = new float[4][256];
        for (int c = 0; c < 4; c++) {
            // a prefix code spends at least a bit a symbol, unless the channel has one value (then none)
            boolean single = Arrays.stream(counts[c]).filter(k -> k > 0).count() == 1;
            for (int v = 0; v < 256; v++) {
                bits[c][v] = single ? 0 : counts[c][v] == 0 ? 16 : (float) Math.max(1, Math.log((double) a.length / counts[c][v]) / Math.log(2));
            }
        }
        return bits;
    }

    private static float literalBits(int[] a, int at, int len, float[][] bits) {
        float sum = 0;
        for (int i = at; i < at + len; i++) {
            int p = a[i];
            sum += bits[0][p >>> 24] + bits[1][p >>> 16 & 0xff] + bits[2][p >>> 8 & 0xff] + bits[3][p & 0xff];
        }
        return sum;
    }

    private static float copyBits(int len, int distanceCode) {
        int lp = prefix(len), dp = prefix(distanceCode);
        return LENGTH_SYMBOL_BITS + extraBits(lp) + (distanceCode <= 120 ? NEAR_SYMBOL_BITS : FAR_SYMBOL_BITS) + extraBits(dp);
    }

    /** The colour cache hash of a pixel for a cache of 2^bits entries (RFC 9649, 5.2.3). */
    static int cacheIndex(int argb, int bits) {
        return (0x1e35a7bd * argb) >>> (32 - bits);
    }

    /**
     * The colour cache bits (0: none) whose coded literals, cache hits and length symbols have the least entropy
     * plus a rough price of their prefix codes, found by running every cache size over the parse of {@code a} at once.
     */
    static int chooseCacheBits(Tokens t, int[] a) {
        int sizes = MAX_CACHE_BITS + 1;
        int[][] caches = new int[sizes][];
        int[][][] hist = new int[sizes][][];
        for (int b = 0; b < sizes; b++) {
            caches[b] = new int[1 << b];
            hist[b] = new int[][] {new int[256 + 24 + (b == 0 ? 0 : 1 << b)], new int[256], new int[256], new int[256]};
        }
        for (int k = 0, pos = 0; k < t.count(); k++) {
            int len = t.length()[k], v = t.value()[k];
            if (len == 0) {
                for (int b = 0; b < sizes; b++) {
                    int[][] h = hist[b];
                    int idx = b == 0 ? 0 : cacheIndex(v, b);
                    if (b > 0 && caches[b][idx] == v) {
                        h[0][280 + idx]++;
                    } else {
                        h[0][v >>> 8 & 0xff]++;
                        h[1][v >>> 16 & 0xff]++;
                        h[2][v & 0xff]++;
                        h[3][v >>> 24]++;
                    }
                    caches[b][idx] = v;
                }
                pos++;
            } else {
                for (int b = 0; b < sizes; b++) hist[b][0][256 + prefix(len)]++;
                // the cache holds every decoded pixel, copied ones too
                for (int end = pos + len; pos < end; pos++) for (int b = 1; b < sizes; b++) caches[b][cacheIndex(a[pos], b)] = a[pos];
            }
        }
        int best = 0;
        double bestBits = Double.MAX_VALUE;
        for (int b = 0; b < sizes; b++) {
            double bits = 0;
            for (int[] h : hist[b]) bits += entropy(h);
            if (bits < bestBits) {
                bestBits = bits;
                best = b;
            }
        }
        return best;
    }

    /** Turns the literals of {@code t} that a cache of 2^bits entries holds into cache hits, as a decoder's cache evolves. */
    static void useCache(Tokens t, int[] a, int bits) {
        int[] cache = new int[1 << bits];
        for (int k = 0, pos = 0; k < t.count(); k++) {
            int len = t.length()[k], v = t.value()[k];
            if (len == 0) {
                int idx = cacheIndex(v, bits);
                if (cache[idx] == v) {
                    t.length()[k] = -1;
                    t.value()[k] = idx;
                }
                cache[idx] = v;
                pos++;
            } else {
                for (int end = pos + len; pos < end; pos++) cache[cacheIndex(a[pos], bits)] = a[pos];
            }
        }
    }

    /** Shannon bits of a histogram's symbols plus about 4 bits per symbol used for its code length. */
    private static double entropy(int[] h) {
        long total = 0;
        int used = 0;
        for (int c : h) {
            total += c;
            if (c > 0) used++;
        }
        if (used <= 1) return used;
        double bits = 0;
        for (int c : h) if (c > 0) bits += c * Math.log((double) total / c);
        return bits / Math.log(2) + 4.0 * used;
    }
}
