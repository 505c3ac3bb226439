package fluxj.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Exact f32 decoding of the GGUF block types, bit for bit ggml's reference {@code dequantize_row_*}: f16 scales
 * widened exactly, products of small integers with them (exact in f32), then one rounding multiply or
 * subtract per value in ggml's order (never fused). Block layouts are ggml's {@code block_*} structs, packed,
 * little-endian.
 */
public final class Blocks {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** The non-linear 4-bit grid of IQ4_NL and IQ4_XS ({@code kvalues_iq4nl}). */
    static final byte[] IQ4 = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    private Blocks() {}

    /** Element {@code i} of block-quantized data (decodes its whole block: for single values, not for loops). */
    static float get(DType dt, MemorySegment seg, long i) {
        float[] b = new float[dt.blockValues()];
        decode(dt, seg, i / dt.blockValues(), b, 0);
        return b[(int) (i % dt.blockValues())];
    }

    /**
     * Elements [from, from + n) of block-quantized data into {@code out[off..]}; ranges need not start or end on a
     * block boundary (a partial block is decoded whole into a scratch block first).
     */
    public static void span(DType dt, MemorySegment seg, long from, int n, float[] out, int off) {
        int bv = dt.blockValues();
        long block = from / bv;
        int skip = (int) (from % bv), done = 0;
        float[] scratch = null;
        while (done < n) {
            int take = Math.min(bv - skip, n - done);
            if (skip == 0 && take == bv) {
                decode(dt, seg, block, out, off + done);
            } else {
                if (scratch == null) scratch = new float[bv];
                decode(dt, seg, block, scratch, 0);
                System.arraycopy(scratch, skip, out, off + done, take);
            }
            done += take;
            skip = 0;
            block++;
        }
    }

    /** Block {@code block} (its {@code blockValues()} values) into {@code out[o..]}. */
    public static void decode(DType dt, MemorySegment seg, long block, float[] out, int o) {
        long b = block * dt.blockBytes();
        switch (dt) {
            case Q8_0 -> q8_0(seg, b, out, o);
            case Q4_0 -> q4_0(seg, b, out, o);
            case Q4_1 -> q4_1(seg, b, out, o);
            case Q5_0 -> q5_0(seg, b, out, o);
            case Q5_1 -> q5_1(seg, b, out, o);
            case Q2_K -> q2_k(seg, b, out, o);
            case Q3_K -> q3_k(seg, b, out, o);
            case Q4_K -> q4_k(seg, b, out, o);
            case Q5_K -> q5_k(seg, b, out, o);
            case Q6_K -> q6_k(seg, b, out, o);
            case IQ4_NL -> iq4_nl(seg, b, out, o);
            case IQ4_XS -> iq4_xs(seg, b, out, o);
            default -> throw new IllegalArgumentException(dt + " is not a block type");
        }
    }

    static float half(MemorySegment seg, long at) { return Float.float16ToFloat(seg.get(I16, at)); }

    static int u8(MemorySegment seg, long at) { return seg.get(ValueLayout.JAVA_BYTE, at) & 0xff; }

    private static void q8_0(MemorySegment seg, long b, float[] out, int o) {
        float d = half(seg, b);
        for (int e = 0; e < 32; e++) out[o + e] = d * seg.get(ValueLayout.JAVA_BYTE, b + 2 + e);
    }

    private static void q4_0(MemorySegment seg, long b, float[] out, int o) {
        float d = half(seg, b);
        for (int j = 0; j < 16; j++) {
            int q = u8(seg, b + 2 + j);
            out[o + j] = d * ((q & 15) - 8);
            out[o + j + 16] = d * ((q >> 4) - 8);
        }
    }

    private static void q4_1(MemorySegment seg, long b, float[] out, int o) {
        float d = half(seg, b), m = half(seg, b + 2);
        for (int j = 0; j < 16; j++) {
            int q = u8(seg, b + 4 + j);
            out[o + j] = d * (q & 15) + m;
            out[o + j + 16] = d * (q >> 4) + m;
        }
    }

    private static void q5_0(MemorySegment seg, long b, float[] out, int o) {
        float d = half(seg, b);
        int qh = seg.get(I32, b + 2);
        for (int j = 0; j < 16; j++) {
            int q = u8(seg, b + 6 + j);
            out[o + j] = d * (((q & 15) | ((qh >>> j) & 1) << 4) - 16);
            out[o + j + 16] = d * (((q >> 4) | ((qh >>> (j + 16)) & 1) << 4) - 16);
        }
    }

    private static void q5_1(MemorySegment seg, long b, float[] out, int o) {
        float d = half(seg, b), m = half(seg, b + 2);
        int qh = seg.get(I32, b + 4);
        for (int j = 0; j < 16; j++) {
            int q = u8(seg, b + 8 + j);
            out[o + j] = d * ((q & 15) | ((qh >>> j) & 1) << 4) + m;
            out[o + j + 16] = d * ((q >> 4) | ((qh >>> (j + 16)) & 1) << 4) + m;
        }
    }

    /** scales[16], qs[64], d, dmin: 16 sub-blocks of 16 with a 4-bit scale and min each. */
    private static void q2_k(MemorySegment seg, long b, float[] out, int o) {
        float d = half(seg, b + 80), dmin = half(seg, b + 82);
        for (int e = 0; e < 256; e++) {
            int sc = u8(seg, b + e / 16);
            int h = e / 128, t = (e % 128) / 32, j = e % 32;
            int q = (u8(seg, b + 16 + 32 * h + j) >> (2 * t)) & 3;
            out[o + e] = (d * (sc & 15)) * q - (dmin * (sc >> 4));
        }
    }

    /** hmask[32], qs[64], scales[12], d: 2 low bits as Q2_K, a high bit that when clear subtracts 4, 6-bit signed scales. */
    private static void q3_k(MemorySegment seg, long b, float[] out, int o) {
        float d = half(seg, b + 108);
        for (int e = 0; e < 256; e++) {
            int i = e / 16;
            int lo4 = (u8(seg, b + 96 + i % 8) >> (4 * (i / 8))) & 15;
            int hi2 = (u8(seg, b + 96 + 8 + i % 4) >> (2 * (i / 4))) & 3;
            int sc = (lo4 | hi2 << 4) - 32;
            int h = e / 128, t = (e % 128) / 32, j = e % 32;
            int low = (u8(seg, b + 32 + 32 * h + j) >> (2 * t)) & 3;
            int hb = (u8(seg, b + e % 32) >> (e / 32)) & 1;
            out[o + e] = (d * sc) * (low - (hb != 0 ? 0 : 4));
        }
    }

    /** The 6-bit scale (which = 0) or min (which = 1) of sub-block i of Q4_K / Q5_K from their 12 packed bytes at s. */
    private static int scaleMin(MemorySegment seg, long s, int i, int which) {
        if (i < 4) return u8(seg, s + i + 4 * which) & 63;
        int packed = u8(seg, s + i + 4);
        int low = which == 0 ? packed & 15 : packed >> 4;
        return low | (u8(seg, s + i - 4 + 4 * which) >> 6) << 4;
    }

    /** d, dmin, scales[12], qs[128]: 8 sub-blocks of 32 with 6-bit scale and min. */
    private static void q4_k(MemorySegment seg, long b, float[] out, int o) {
        float d = half(seg, b), dmin = half(seg, b + 2);
        for (int i = 0; i < 8; i++) {
            float d1 = d * scaleMin(seg, b + 4, i, 0), m1 = dmin * scaleMin(seg, b + 4, i, 1);
            int c = i / 2, n = i % 2;
            for (int j = 0; j < 32; j++) {
                int q = (u8(seg, b + 16 + 32 * c + j) >> (4 * n)) & 15;
                out[o + 32 * i + j] = d1 * q - m1;
            }
        }
    }

    /** d, dmin, scales[12], qh[32], qs[128]: Q4_K plus a fifth bit per value from qh. */
    private static void q5_k(MemorySegment seg, long b, float[] out, int o) {
        float d = half(seg, b), dmin = half(seg, b + 2);
        for (int i = 0; i < 8; i++) {
            float d1 = d * scaleMin(seg, b + 4, i, 0), m1 = dmin * scaleMin(seg, b + 4, i, 1);
            int c = i / 2, n = i % 2;
            for (int j = 0; j < 32; j++) {
                int q = (u8(seg, b + 48 + 32 * c + j) >> (4 * n)) & 15;
                q |= ((u8(seg, b + 16 + j) >> i) & 1) << 4;
                out[o + 32 * i + j] = d1 * q - m1;
            }
        }
    }

    /** ql[128], qh[64], scales int8[16], d: 6-bit values (4 low + 2 high bits) minus 32, a scale per 16. */
    private static void q6_k(MemorySegment seg, long b, float[] out, int o) {
        float d = half(seg, b + 208);
        for (int e = 0; e < 256; e++) {
            int h = e / 128, r = e % 128;
            int low = (u8(seg, b + 64 * h + r % 64) >> (4 * (r / 64))) & 15;
            int high = (u8(seg, b + 128 + 32 * h + r % 32) >> (2 * (r / 32))) & 3;
            int q = (low | high << 4) - 32;
            out[o + e] = (d * seg.get(ValueLayout.JAVA_BYTE, b + 192 + e / 16)) * q;
        }
    }

    private static void iq4_nl(MemorySegment seg, long b, float[] out, int o) {
        float d = half(seg, b);
        for (int j = 0; j < 16; j++) {
            int q = u8(seg, b + 2 + j);
            out[o + j] = d * IQ4[q & 15];
            out[o + j + 16] = d * IQ4[q >> 4];
        }
    }

    /** d, scales_h u16, scales_l[4], qs[128]: 8 sub-blocks of 32 on the IQ4 grid, 6-bit scales minus 32. */
    private static void iq4_xs(MemorySegment seg, long b, float[] out, int o) {
        float d = half(seg, b);
        int scalesH = seg.get(I16, b + 2) & 0xffff;
        for (int i = 0; i < 8; i++) {
            int ls = ((u8(seg, b + 4 + i / 2) >> (4 * (i % 2))) & 15) | ((scalesH >> (2 * i)) & 3) << 4;
            float dl = d * (ls - 32);
            for (int j = 0; j < 16; j++) {
                int q = u8(seg, b + 8 + 16 * i + j);
                out[o + 32 * i + j] = dl * IQ4[q & 15];
                out[o + 32 * i + j + 16] = dl * IQ4[q >> 4];
            }
        }
    }
}
