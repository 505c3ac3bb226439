package fluxj.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Exact f32 decoding of the GGUF block types, bit for bit ggml's reference {@code dequantize_row_*}. Every type
 * decodes as {@code x = scale * code}, {@code scale * code + m} (Q4_1, Q5_1) or {@code scale * code - min}
 * (Q2_K, Q4_K, Q5_K), with a small integer code per value and a scale (and min) per sub-block of 16 or 32 values
 * that ggml computes from the f16 fields exactly as here ({@code d * sc}, {@code dmin * mn}: one f32 product).
 * The integer codes are unpacked from a copy of the blocks' bytes by plain loops; the float arithmetic runs a
 * vector at a time, one multiply and one add or subtract per value in ggml's order (never fused), so the vector
 * code gives the same bits as the scalar formulas. Block layouts are ggml's {@code block_*} structs, packed,
 * little-endian.
 */
public final class Blocks {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Bytes matching the float lanes one for one; none below 64 bits (SSE-only), where the arithmetic is scalar. */
    private static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128, B256 = ByteVector.SPECIES_256;
    private static final VectorSpecies<Byte> B = L >= 8 ? ByteVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(L * 8)) : null;
    /** The non-linear 4-bit grid of IQ4_NL and IQ4_XS ({@code kvalues_iq4nl}). */
    static final byte[] IQ4 = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    private static final ByteVector IQ4_GRID = ByteVector.fromArray(ByteVector.SPECIES_128, IQ4, 0);
    /** For each byte value v, 8 bytes: bit i of v moved to bit 4 (Q5's fifth bit). */
    private static final byte[] BIT4 = new byte[256 * 8];

    static {
        for (int v = 0; v < 256; v++) for (int i = 0; i < 8; i++) BIT4[v * 8 + i] = (byte) (((v >> i) & 1) << 4);
    }
    /** Values decoded per pass: bounds the scratch arrays (16 KB of codes). */
    private static final int CHUNK_VALUES = 4096;
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private Blocks() {}

    private static final class Scratch {
        final byte[] raw = new byte[CHUNK_VALUES / 32 * 34];
        final byte[] codes = new byte[CHUNK_VALUES];
        final float[] scale = new float[CHUNK_VALUES / 16], min = new float[CHUNK_VALUES / 16];
        final float[] block = new float[256];
    }

    /** How a sub-block's min enters: not at all, added ({@code d * q + m}) or subtracted ({@code d1 * q - m1}). */
    private enum Min { NONE, ADD, SUB }

    private static Min min(DType dt) {
        return switch (dt) {
            case Q4_1, Q5_1 -> Min.ADD;
            case Q2_K, Q4_K, Q5_K -> Min.SUB;
            default -> Min.NONE;
        };
    }

    /** Values per scale: 16 for Q2_K, Q3_K, Q6_K; 32 for the others. */
    private static int subBlock(DType dt) {
        return switch (dt) {
            case Q2_K, Q3_K, Q6_K -> 16;
            default -> 32;
        };
    }

    /** Element {@code i} of block-quantized data (decodes its whole block: for single values, not for loops). */
    static float get(DType dt, MemorySegment seg, long i) {
        float[] b = new float[dt.blockValues()];
        decode(dt, seg, i / dt.blockValues(), 1, b, 0);
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
        if (skip != 0) {
            float[] b = SCRATCH.get().block;
            decode(dt, seg, block++, 1, b, 0);
            done = Math.min(n, bv - skip);
            System.arraycopy(b, skip, out, off, done);
        }
        int whole = (n - done) / bv;
        if (whole > 0) {
            decode(dt, seg, block, whole, out, off + done);
            block += whole;
            done += whole * bv;
        }
        if (done < n) {
            float[] b = SCRATCH.get().block;
            decode(dt, seg, block, 1, b, 0);
            System.arraycopy(b, 0, out, off + done, n - done);
        }
    }

    /** Blocks [block, block + count) into {@code out[o..]}, {@code count * blockValues()} values. */
    public static void decode(DType dt, MemorySegment seg, long block, int count, float[] out, int o) {
        Scratch s = SCRATCH.get();
        int bv = dt.blockValues(), bb = dt.blockBytes(), perChunk = CHUNK_VALUES / bv, sub = subBlock(dt);
        Min mode = min(dt);
        for (int c = 0; c < count; c += perChunk) {
            int blocks = Math.min(perChunk, count - c);
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, (block + c) * bb, s.raw, 0, blocks * bb);
            for (int b = 0; b < blocks; b++) unpack(dt, s.raw, b * bb, s.codes, b * bv, s.scale, s.min, b * (bv / sub));
            scale(s.codes, s.scale, s.min, mode, sub, blocks * bv, out, o + c * bv);
        }
    }

    /** out[o + e] = scale[e / sub] * codes[e] (then + or - min[e / sub]) for e < n. */
    private static void scale(byte[] codes, float[] scale, float[] min, Min mode, int sub, int n, float[] out, int o) {
        if (B == null) {
            for (int e = 0; e < n; e++) {
                float x = scale[e / sub] * codes[e];
                out[o + e] = mode == Min.ADD ? x + min[e / sub] : mode == Min.SUB ? x - min[e / sub] : x;
            }
            return;
        }
        for (int s = 0, e = 0; e < n; s++) {
            float d = scale[s], m = min[s];
            for (int end = e + sub; e < end; e += L) {
                FloatVector x = ((FloatVector) ByteVector.fromArray(B, codes, e).convertShape(VectorOperators.B2F, F, 0)).mul(d);
                if (mode == Min.ADD) x = x.add(m);
                else if (mode == Min.SUB) x = x.sub(m);
                x.intoArray(out, o + e);
            }
        }
    }

    private static float half(byte[] raw, int at) { return Float.float16ToFloat((short) ((raw[at] & 0xff) | raw[at + 1] << 8)); }

    private static int u8(byte[] raw, int at) { return raw[at] & 0xff; }

    /** The block at raw[r..] as codes[c..] and the scales (and mins) of its sub-blocks at [s..]. */
    private static void unpack(DType dt, byte[] raw, int r, byte[] codes, int c, float[] scale, float[] min, int s) {
        switch (dt) {
            case Q8_0 -> {
                scale[s] = half(raw, r);
                System.arraycopy(raw, r + 2, codes, c, 32);
            }
            case Q4_0 -> {
                scale[s] = half(raw, r);
                nibbles(raw, r + 2, (byte) 8, codes, c, c + 16);
            }
            case Q4_1 -> {
                scale[s] = half(raw, r);
                min[s] = half(raw, r + 2);
                nibbles(raw, r + 4, (byte) 0, codes, c, c + 16);
            }
            case Q5_0 -> {
                scale[s] = half(raw, r);
                fifthBits(raw, r + 2, codes, c);
                nibblesOr(raw, r + 6, (byte) 16, codes, c);
            }
            case Q5_1 -> {
                scale[s] = half(raw, r);
                min[s] = half(raw, r + 2);
                fifthBits(raw, r + 4, codes, c);
                nibblesOr(raw, r + 8, (byte) 0, codes, c);
            }
            case Q2_K -> q2k(raw, r, codes, c, scale, min, s);
            case Q3_K -> q3k(raw, r, codes, c, scale, s);
            case Q4_K, Q5_K -> q45k(dt == DType.Q5_K, raw, r, codes, c, scale, min, s);
            case Q6_K -> q6k(raw, r, codes, c, scale, s);
            case IQ4_NL -> {
                scale[s] = half(raw, r);
                grid(raw, r + 2, codes, c);
            }
            case IQ4_XS -> iq4xs(raw, r, codes, c, scale, s);
            default -> throw new IllegalArgumentException(dt + " is not a block type");
        }
    }

    /** scales[16], qs[64], d, dmin: 16 sub-blocks of 16, 4-bit scale and min each; 2-bit value e = 128h + 32t + j. */
    private static void q2k(byte[] raw, int r, byte[] codes, int c, float[] scale, float[] min, int s) {
        float d = half(raw, r + 80), dmin = half(raw, r + 82);
        for (int i = 0; i < 16; i++) {
            int sc = u8(raw, r + i);
            scale[s + i] = d * (sc & 15);
            min[s + i] = dmin * (sc >> 4);
        }
        for (int h = 0; h < 2; h++) {
            for (int j = 0; j < 32; j++) {
                int q = u8(raw, r + 16 + 32 * h + j), e = c + 128 * h + j;
                codes[e] = (byte) (q & 3);
                codes[e + 32] = (byte) ((q >> 2) & 3);
                codes[e + 64] = (byte) ((q >> 4) & 3);
                codes[e + 96] = (byte) (q >> 6);
            }
        }
    }

    /** hmask[32], qs[64], scales[12], d: low 2 bits as Q2_K, minus 4 where the high bit is clear; 6-bit signed scales. */
    private static void q3k(byte[] raw, int r, byte[] codes, int c, float[] scale, int s) {
        float d = half(raw, r + 108);
        for (int i = 0; i < 16; i++) {
            int lo4 = (u8(raw, r + 96 + i % 8) >> (4 * (i / 8))) & 15;
            int hi2 = (u8(raw, r + 104 + i % 4) >> (2 * (i / 4))) & 3;
            scale[s + i] = d * ((lo4 | hi2 << 4) - 32);
        }
        // the high bit of value 128h + 32t + j is bit 4h + t of hmask[j]; clear means minus 4
        ByteVector clear = ByteVector.fromArray(B256, raw, r).not();
        for (int h = 0; h < 2; h++) {
            ByteVector q = ByteVector.fromArray(B256, raw, r + 32 + 32 * h);
            for (int t = 0; t < 4; t++) {
                ByteVector minus4 = clear.lanewise(VectorOperators.LSHR, 4 * h + t).and((byte) 1).lanewise(VectorOperators.LSHL, 2);
                q.lanewise(VectorOperators.LSHR, 2 * t).and((byte) 3).sub(minus4).intoArray(codes, c + 128 * h + 32 * t);
            }
        }
    }

    /**
     * Q4_K (d, dmin, scales[12], qs[128]) and Q5_K (the same with qh[32] before qs): 8 sub-blocks of 32 with a
     * 6-bit scale and min; sub-block i = 2c + n takes the low (n = 0) or high nibbles of qs[32c ..], Q5_K adds
     * bit i of qh[j] as the fifth bit.
     */
    private static void q45k(boolean five, byte[] raw, int r, byte[] codes, int c, float[] scale, float[] min, int s) {
        float d = half(raw, r), dmin = half(raw, r + 2);
        int qs = r + (five ? 48 : 16);
        for (int i = 0; i < 8; i++) {
            int sc, mn;
            if (i < 4) {
                sc = u8(raw, r + 4 + i) & 63;
                mn = u8(raw, r + 8 + i) & 63;
            } else {
                sc = (u8(raw, r + 8 + i) & 15) | (u8(raw, r + i) >> 6) << 4;
                mn = (u8(raw, r + 8 + i) >> 4) | (u8(raw, r + 4 + i) >> 6) << 4;
            }
            scale[s + i] = d * sc;
            min[s + i] = dmin * mn;
        }
        // sub-blocks 2c and 2c + 1: the low and high nibbles of qs[32c ..]
        for (int i = 0; i < 8; i += 2) nibbles32(raw, qs + 16 * i, codes, c + 32 * i, c + 32 * i + 32);
        if (five) {
            ByteVector qh = ByteVector.fromArray(B256, raw, r + 16);
            for (int i = 0; i < 8; i++) {
                int o = c + 32 * i;
                ByteVector.fromArray(B256, codes, o).or(qh.lanewise(VectorOperators.LSHR, i).and((byte) 1).lanewise(VectorOperators.LSHL, 4)).intoArray(codes, o);
            }
        }
    }

    /**
     * The 16 bytes at raw[at..] split into nibbles: low ones (minus {@code bias}) to codes[lo..], high ones to
     * codes[hi..], a vector at a time (species constant per method, so the JIT compiles them to vector code).
     */
    private static void nibbles(byte[] raw, int at, byte bias, byte[] codes, int lo, int hi) {
        ByteVector v = ByteVector.fromArray(B128, raw, at);
        v.and((byte) 15).sub(bias).intoArray(codes, lo);
        v.lanewise(VectorOperators.LSHR, 4).sub(bias).intoArray(codes, hi);
    }

    /** The 32 bits of the u32 at raw[at..] as 32 bytes of 0 or 16 (bit j at codes[c + j]), 8 at a time from a table. */
    private static void fifthBits(byte[] raw, int at, byte[] codes, int c) {
        for (int i = 0; i < 4; i++) System.arraycopy(BIT4, u8(raw, at + i) * 8, codes, c + 8 * i, 8);
    }

    /** Q5 values: the 16 bytes at raw[at..] split into nibbles, each or-ed with its fifth bit already in codes, minus {@code bias}. */
    private static void nibblesOr(byte[] raw, int at, byte bias, byte[] codes, int c) {
        ByteVector v = ByteVector.fromArray(B128, raw, at);
        v.and((byte) 15).or(ByteVector.fromArray(B128, codes, c)).sub(bias).intoArray(codes, c);
        v.lanewise(VectorOperators.LSHR, 4).or(ByteVector.fromArray(B128, codes, c + 16)).sub(bias).intoArray(codes, c + 16);
    }

    /** IQ4 values: the 16 bytes at raw[at..] split into nibbles (low ones first), each looked up in the IQ4 grid. */
    private static void grid(byte[] raw, int at, byte[] codes, int c) {
        ByteVector v = ByteVector.fromArray(B128, raw, at);
        v.and((byte) 15).selectFrom(IQ4_GRID).intoArray(codes, c);
        v.lanewise(VectorOperators.LSHR, 4).selectFrom(IQ4_GRID).intoArray(codes, c + 16);
    }

    /** As {@link #nibbles} for 32 bytes, without bias. */
    private static void nibbles32(byte[] raw, int at, byte[] codes, int lo, int hi) {
        ByteVector v = ByteVector.fromArray(B256, raw, at);
        v.and((byte) 15).intoArray(codes, lo);
        v.lanewise(VectorOperators.LSHR, 4).intoArray(codes, hi);
    }

    /** ql[128], qh[64], scales int8[16], d: 6-bit values (4 low + 2 high bits) minus 32, a scale per 16; e = 128h + r. */
    private static void q6k(byte[] raw, int r, byte[] codes, int c, float[] scale, int s) {
        float d = half(raw, r + 208);
        for (int i = 0; i < 16; i++) scale[s + i] = d * raw[r + 192 + i];
        // value 128h + 32q + l: low nibble of ql[64h + l] (q = 0), ql[64h + 32 + l] (1), their high nibbles (2, 3);
        // high 2 bits from qh[32h + l] >> 2q
        for (int h = 0; h < 2; h++) {
            ByteVector a = ByteVector.fromArray(B256, raw, r + 64 * h), b = ByteVector.fromArray(B256, raw, r + 64 * h + 32);
            ByteVector hq = ByteVector.fromArray(B256, raw, r + 128 + 32 * h);
            int e = c + 128 * h;
            six(a.and((byte) 15), hq, 0).intoArray(codes, e);
            six(b.and((byte) 15), hq, 2).intoArray(codes, e + 32);
            six(a.lanewise(VectorOperators.LSHR, 4), hq, 4).intoArray(codes, e + 64);
            six(b.lanewise(VectorOperators.LSHR, 4), hq, 6).intoArray(codes, e + 96);
        }
    }

    /** (low | ((high >> shift) & 3) << 4) - 32: a Q6_K value from its low nibble and 2 bits of qh. */
    private static ByteVector six(ByteVector low, ByteVector high, int shift) {
        return low.or(high.lanewise(VectorOperators.LSHR, shift).and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
    }

    /** d, scales_h u16, scales_l[4], qs[128]: 8 sub-blocks of 32 on the IQ4 grid with 6-bit scales minus 32. */
    private static void iq4xs(byte[] raw, int r, byte[] codes, int c, float[] scale, int s) {
        float d = half(raw, r);
        int scalesH = u8(raw, r + 2) | u8(raw, r + 3) << 8;
        for (int i = 0; i < 8; i++) {
            int ls = ((u8(raw, r + 4 + i / 2) >> (4 * (i % 2))) & 15) | ((scalesH >> (2 * i)) & 3) << 4;
            scale[s + i] = d * (ls - 32);
            grid(raw, r + 8 + 16 * i, codes, c + 32 * i);
        }
    }
}
