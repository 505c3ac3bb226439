package fluxj.image;

import fluxj.pipeline.RgbImage;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.PriorityQueue;

/**
 * Lossless WebP (VP8L, RFC 9649) for opaque RGB images: the JDK has no WebP writer, and clients of the image APIs
 * ask for {@code output_format=webp}. The encoder applies the subtract-green transform, then the predictor
 * transform with the mode of least residual per 16x16 tile, then the colour transform per 32x32 tile
 * ({@link CrossColour}), and codes the result with LZ77 backward references and a colour cache ({@link Backrefs})
 * under one set of prefix codes. Decoders reproduce the pixels exactly.
 */
public final class WebpLossless {
    /** VP8L stores each side minus one in 14 bits. */
    public static final int MAX_SIDE = 1 << 14;
    private static final int TILE_BITS = 4, COLOUR_TILE_BITS = 5;
    private static final int DISTANCE_ALPHABET = 40;
    private static final int MAX_CODE_LENGTH = 15, MAX_LENGTH_CODE_LENGTH = 7;
    private static final int[] CODE_LENGTH_ORDER = {17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

    private WebpLossless() {}

    /** The image as a complete .webp file. */
    public static byte[] encode(RgbImage image) {
        return encode(image, null);
    }

    /**
     * The image as a complete .webp file carrying {@code exif} (TIFF-structured, see {@link Exif}) in an EXIF
     * chunk of the extended format; null: none, the simple format.
     */
    public static byte[] encode(RgbImage image, byte[] exif) {
        int w = image.width(), h = image.height();
        if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE) {
            throw new IllegalArgumentException("WebP: a " + w + "x" + h + " image cannot be stored (sides 1 to " + MAX_SIDE + ")");
        }
        int[] argb = new int[w * h];
        byte[] rgb = image.rgb();
        for (int i = 0; i < argb.length; i++) {
            int r = rgb[3 * i] & 0xff, g = rgb[3 * i + 1] & 0xff, b = rgb[3 * i + 2] & 0xff;
            argb[i] = 0xff000000 | ((r - g) & 0xff) << 16 | g << 8 | ((b - g) & 0xff); // subtract green
        }
        int tilesX = (w + (1 << TILE_BITS) - 1) >> TILE_BITS, tilesY = (h + (1 << TILE_BITS) - 1) >> TILE_BITS;
        int[] modes = new int[tilesX * tilesY];
        int[] residual = Predictor.residuals(argb, w, h, TILE_BITS, modes);

        Bits out = new Bits();
        out.write(0x2f, 8);
        out.write(w - 1, 14);
        out.write(h - 1, 14);
        out.write(0, 1); // no alpha
        out.write(0, 3); // version 0
        out.write(1, 1);
        out.write(2, 2); // subtract green
        out.write(1, 1);
        out.write(0, 2); // predictor
        out.write(TILE_BITS - 2, 3);
        int[] modeImage = new int[modes.length];
        for (int i = 0; i < modes.length; i++) modeImage[i] = 0xff000000 | modes[i] << 8;
        entropyCoded(out, modeImage, tilesX, false);
        out.write(1, 1);
        out.write(1, 2); // colour
        out.write(COLOUR_TILE_BITS - 2, 3);
        int[] elements = CrossColour.apply(residual, w, h, COLOUR_TILE_BITS);
        entropyCoded(out, elements, (w + (1 << COLOUR_TILE_BITS) - 1) >> COLOUR_TILE_BITS, false);
        out.write(0, 1); // no more transforms
        entropyCoded(out, residual, w, true);
        return exif == null ? riff(out.bytes()) : extended(out.bytes(), w, h, exif);
    }

    /**
     * An entropy-coded image {@code w} pixels wide: LZ77 backward references and colour cache codes where they
     * pay ({@link Backrefs}), one group of five prefix codes (no meta prefix codes).
     */
    private static void entropyCoded(Bits out, int[] argb, int w, boolean main) {
        Backrefs.Tokens t = Backrefs.parse(argb, w);
        int cacheBits = Backrefs.chooseCacheBits(t, argb);
        if (cacheBits > 0) {
            Backrefs.useCache(t, argb, cacheBits);
            out.write(1, 1);
            out.write(cacheBits, 4);
        } else {
            out.write(0, 1);
        }
        if (main) out.write(0, 1); // no meta prefix codes
        Backrefs.DistanceCodes distances = new Backrefs.DistanceCodes(w);
        int[] length = t.length(), value = t.value();
        int[][] histograms = {new int[256 + 24 + (cacheBits > 0 ? 1 << cacheBits : 0)], new int[256], new int[256], new int[256], new int[DISTANCE_ALPHABET]};
        for (int k = 0; k < t.count(); k++) {
            int p = value[k];
            switch (Integer.signum(length[k])) {
                case 0 -> {
                    histograms[0][p >>> 8 & 0xff]++;
                    histograms[1][p >>> 16 & 0xff]++;
                    histograms[2][p & 0xff]++;
                    histograms[3][p >>> 24]++;
                }
                case -1 -> histograms[0][256 + 24 + p]++;
                default -> {
                    histograms[0][256 + Backrefs.prefix(length[k])]++;
                    histograms[4][Backrefs.prefix(distances.code(p))]++;
                }
            }
        }
        Code[] codes = new Code[5];
        for (int i = 0; i < 5; i++) codes[i] = Code.write(out, histograms[i]);
        for (int k = 0; k < t.count(); k++) {
            int p = value[k];
            switch (Integer.signum(length[k])) {
                case 0 -> {
                    codes[0].put(out, p >>> 8 & 0xff);
                    codes[1].put(out, p >>> 16 & 0xff);
                    codes[2].put(out, p & 0xff);
                    codes[3].put(out, p >>> 24);
                }
                case -1 -> codes[0].put(out, 256 + 24 + p);
                default -> {
                    int lp = Backrefs.prefix(length[k]);
                    codes[0].put(out, 256 + lp);
                    out.write(Backrefs.extraValue(length[k], lp), Backrefs.extraBits(lp));
                    int code = distances.code(p), dp = Backrefs.prefix(code);
                    codes[4].put(out, dp);
                    out.write(Backrefs.extraValue(code, dp), Backrefs.extraBits(dp));
                }
            }
        }
    }

    private static byte[] riff(byte[] vp8l) {
        ByteArrayOutputStream f = new ByteArrayOutputStream(vp8l.length + 21);
        f.writeBytes("RIFF".getBytes(StandardCharsets.US_ASCII));
        le32(f, 4 + 8 + vp8l.length + (vp8l.length & 1));
        f.writeBytes("WEBP".getBytes(StandardCharsets.US_ASCII));
        chunk(f, "VP8L", vp8l);
        return f.toByteArray();
    }

    /** The extended format: a VP8X header (canvas size, the EXIF flag), the VP8L image, the EXIF chunk. */
    private static byte[] extended(byte[] vp8l, int w, int h, byte[] exif) {
        long size = 4 + (8 + 10) + (8 + vp8l.length + (vp8l.length & 1)) + (8 + (long) exif.length + (exif.length & 1));
        if (size > 0xfffffff6L) throw new IllegalArgumentException("WebP: " + size + " bytes is more than a RIFF file holds");
        ByteArrayOutputStream header = new ByteArrayOutputStream(10);
        header.write(0x08); // flags: EXIF metadata (no ICC, alpha, XMP or animation)
        header.writeBytes(new byte[3]);
        le24(header, w - 1);
        le24(header, h - 1);
        ByteArrayOutputStream f = new ByteArrayOutputStream((int) size + 8);
        f.writeBytes("RIFF".getBytes(StandardCharsets.US_ASCII));
        le32(f, (int) size);
        f.writeBytes("WEBP".getBytes(StandardCharsets.US_ASCII));
        chunk(f, "VP8X", header.toByteArray());
        chunk(f, "VP8L", vp8l);
        chunk(f, "EXIF", exif);
        return f.toByteArray();
    }

    /** A RIFF chunk: its four-character code, its length, its data, padded to an even length. */
    private static void chunk(ByteArrayOutputStream f, String fourcc, byte[] data) {
        f.writeBytes(fourcc.getBytes(StandardCharsets.US_ASCII));
        le32(f, data.length);
        f.writeBytes(data);
        if ((data.length & 1) == 1) f.write(0);
    }

    private static void le24(ByteArrayOutputStream f, int v) {
        for (int i = 0; i < 3; i++) f.write(v >>> 8 * i);
    }

    private static void le32(ByteArrayOutputStream f, int v) {
        for (int i = 0; i < 4; i++) f.write(v >>> 8 * i);
    }

    /** A canonical prefix code: lengths per symbol, codes reversed for the LSB-first stream. */
    private record Code(int[] lengths, int[] reversed) {
        void put(Bits out, int symbol) {
            out.write(reversed[symbol], lengths[symbol]);
        }

        /** Writes the code for {@code histogram} (simple form for up to two literal symbols) and returns it. */
        static Code write(Bits out, int[] histogram) {
            int used = 0, first = -1, second = -1;
            for (int s = 0; s < histogram.length; s++) {
                if (histogram[s] == 0) continue;
                if (used == 0) first = s;
                else if (used == 1) second = s;
                used++;
            }
            if (used <= 2 && Math.max(first, second) < 256) {
                int[] lengths = new int[histogram.length];
                out.write(1, 1); // simple code
                out.write(Math.max(used, 1) - 1, 1);
                int s0 = Math.max(first, 0);
                if (s0 < 2) {
                    out.write(0, 1);
                    out.write(s0, 1);
                } else {
                    out.write(1, 1);
                    out.write(s0, 8);
                }
                if (used == 2) {
                    out.write(second, 8);
                    lengths[first] = lengths[second] = 1;
                }
                return new Code(lengths, canonical(lengths)); // one symbol: read with zero bits
            }
            int[] lengths = lengths(histogram, MAX_CODE_LENGTH);
            out.write(0, 1); // normal code
            writeLengths(out, lengths);
            // a code of one symbol (a length or cache symbol alone) is read with zero bits, as in the simple form
            if (used == 1) return new Code(new int[lengths.length], new int[lengths.length]);
            return new Code(lengths, canonical(lengths));
        }

        /** The code lengths, coded with the code-length code; zero runs as symbols 17 and 18. */
        private static void writeLengths(Bits out, int[] lengths) {
            int[] tokens = new int[lengths.length], extra = new int[lengths.length];
            int n = 0;
            for (int i = 0; i < lengths.length; ) {
                int run = 1;
                if (lengths[i] == 0) while (i + run < lengths.length && lengths[i + run] == 0 && run < 138) run++;
                if (run >= 11) { tokens[n] = 18; extra[n++] = run - 11; }
                else if (run >= 3) { tokens[n] = 17; extra[n++] = run - 3; }
                else { run = 1; tokens[n++] = lengths[i]; }
                i += run;
            }
            int[] histogram = new int[19];
            for (int t = 0; t < n; t++) histogram[tokens[t]]++;
            int[] lengthLengths = lengths(histogram, MAX_LENGTH_CODE_LENGTH);
            int count = 19;
            while (count > 4 && lengthLengths[CODE_LENGTH_ORDER[count - 1]] == 0) count--;
            out.write(count - 4, 4);
            for (int i = 0; i < count; i++) out.write(lengthLengths[CODE_LENGTH_ORDER[i]], 3);
            out.write(0, 1); // max_symbol: the whole alphabet
            // A code-length code of one symbol is read with zero bits (a decoder's single-value table).
            boolean single = Arrays.stream(lengthLengths).filter(l -> l > 0).count() == 1;
            int[] codes = canonical(lengthLengths);
            for (int t = 0; t < n; t++) {
                if (!single) out.write(codes[tokens[t]], lengthLengths[tokens[t]]);
                if (tokens[t] == 17) out.write(extra[t], 3);
                else if (tokens[t] == 18) out.write(extra[t], 7);
            }
        }

        /**
         * Huffman code lengths of at most {@code limit} bits for the symbols with a count (a single symbol gets
         * length 1). Over the limit, counts are halved (rounding up) until the tree is shallow enough.
         */
        static int[] lengths(int[] histogram, int limit) {
            long[] counts = new long[histogram.length];
            for (int i = 0; i < counts.length; i++) counts[i] = histogram[i];
            while (true) {
                int[] lengths = huffman(counts);
                if (Arrays.stream(lengths).max().orElse(0) <= limit) return lengths;
                for (int i = 0; i < counts.length; i++) if (counts[i] > 0) counts[i] = (counts[i] + 1) / 2;
            }
        }

        private static int[] huffman(long[] counts) {
            int n = counts.length;
            int[] parent = new int[2 * n];
            PriorityQueue<long[]> queue = new PriorityQueue<>((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
            for (int i = 0; i < n; i++) if (counts[i] > 0) queue.add(new long[] {counts[i], i});
            int[] lengths = new int[n];
            if (queue.size() == 1) {
                lengths[(int) queue.peek()[1]] = 1;
                return lengths;
            }
            int next = n;
            while (queue.size() > 1) {
                long[] a = queue.poll(), b = queue.poll();
                parent[(int) a[1]] = next;
                parent[(int) b[1]] = next;
                queue.add(new long[] {a[0] + b[0], next++});
            }
            int root = next - 1;
            int[] depth = new int[2 * n];
            for (int node = root - 1; node >= n; node--) depth[node] = depth[parent[node]] + 1;
            for (int i = 0; i < n; i++) if (counts[i] > 0) lengths[i] = depth[parent[i]] + 1;
            return lengths;
        }

        /** Canonical codes (shorter first, then by symbol), each bit-reversed for LSB-first writing. */
        static int[] canonical(int[] lengths) {
            int[] perLength = new int[MAX_CODE_LENGTH + 2];
            for (int l : lengths) if (l > 0) perLength[l]++;
            int[] next = new int[MAX_CODE_LENGTH + 2];
            for (int l = 1, code = 0; l <= MAX_CODE_LENGTH + 1; l++) {
                code = (code + perLength[l - 1]) << 1;
                next[l] = code;
            }
            int[] codes = new int[lengths.length];
            for (int s = 0; s < lengths.length; s++) {
                int l = lengths[s];
                if (l == 0) continue;
                codes[s] = Integer.reverse(next[l]++) >>> (32 - l);
            }
            return codes;
        }
    }

    /** Bits packed least significant first, as VP8L reads them. */
    private static final class Bits {
        private byte[] buf = new byte[1 << 16];
        private int size;
        private long acc;
        private int used;

        void write(int value, int bits) {
            acc |= (value & ((1L << bits) - 1)) << used;
            used += bits;
            while (used >= 8) {
                if (size == buf.length) buf = Arrays.copyOf(buf, size * 2);
                buf[size++] = (byte) acc;
                acc >>>= 8;
                used -= 8;
            }
        }

        byte[] bytes() {
            if (used > 0) write(0, 8 - used);
            return Arrays.copyOf(buf, size);
        }
    }
}
