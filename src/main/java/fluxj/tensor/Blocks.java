package fluxj.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Exact f32 decoding of the GGUF block types, bit for bit ggml's reference {@code dequantize_row_*}. Every type
 * decodes as {@code x = scale * code}, {@code scale * code + m} (Q4_1, Q5_1) or {@code scale * code - min}
 * (Q2_K, Q4_K, Q5_K), with a small integer code per value and a scale (and min) per sub-block of 16 or 32 values
 * that ggml computes from the f16 fields exactly as here ({@code d * sc}, {@code dmin * mn}: one f32 product).
 *
 * <p>Each type has its own loop over the blocks of a bulk copy of their bytes (one compiled method per type): 16
 * codes at a time are unpacked in a 128-bit byte vector (nibbles, bit fields, Q5's fifth bits by a bit test, the
 * IQ4 grid as a byte shuffle),
 * widened to floats and scaled, one multiply and one add or subtract per value in ggml's order (never fused), so
 * the vector code gives the same bits as the scalar formulas. Block layouts are ggml's {@code block_*} structs,
 * packed, little-endian.
 */
public final class Blocks {
    /** Float lanes: the preferred width, at most 16 (a 128-bit vector of codes widens to one or more float vectors). */
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.length() > 16 ? FloatVector.SPECIES_512 : FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length(), PARTS = 16 / L;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    /** The non-linear 4-bit grid of IQ4_NL and IQ4_XS ({@code kvalues_iq4nl}). */
    static final byte[] IQ4 = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    private static final ByteVector IQ4_GRID = ByteVector.fromArray(B, IQ4, 0);
    /** Bit j % 8 in lane j: tests each lane's bit of the qh byte spread to it. */
    private static final ByteVector LANE_BIT = ByteVector.fromArray(B, new byte[] {1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128}, 0);
    /** Q5_0/Q5_1's qh bytes 0 and 1 (the fifth bits of values 0-15) and 2 and 3 (values 16-31), each to 8 lanes. */
    private static final VectorShuffle<Byte> QH_LOW = VectorShuffle.fromValues(B, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
            QH_HIGH = VectorShuffle.fromValues(B, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    /** Values decoded per pass: bounds the scratch copy of the blocks (4.3 KB). */
    private static final int CHUNK_VALUES = 4096;
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private Blocks() {}

    private static final class Scratch {
        final byte[] raw = new byte[CHUNK_VALUES / 32 * 34];
        final float[] block = new float[256];
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
        byte[] raw = SCRATCH.get().raw;
        int bv = dt.blockValues(), bb = dt.blockBytes(), perChunk = CHUNK_VALUES / bv;
        for (int c = 0; c < count; c += perChunk) {
            int blocks = Math.min(perChunk, count - c), at = o + c * bv;
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, (block + c) * bb, raw, 0, blocks * bb);
            switch (dt) {
                case Q8_0 -> q8_0(raw, blocks, out, at);
                case Q4_0 -> q4_0(raw, blocks, out, at);
                case Q4_1 -> q4_1(raw, blocks, out, at);
                case Q5_0 -> q5_0(raw, blocks, out, at);
                case Q5_1 -> q5_1(raw, blocks, out, at);
                case Q2_K -> q2k(raw, blocks, out, at);
                case Q3_K -> q3k(raw, blocks, out, at);
                case Q4_K -> q4k(raw, blocks, out, at);
                case Q5_K -> q5k(raw, blocks, out, at);
                case Q6_K -> q6k(raw, blocks, out, at);
                case IQ4_NL -> iq4nl(raw, blocks, out, at);
                case IQ4_XS -> iq4xs(raw, blocks, out, at);
                default -> throw new IllegalArgumentException(dt + " is not a block type");
            }
        }
    }

    /** out[o..o+16) = d * codes. */
    private static void mul(ByteVector codes, float d, float[] out, int o) {
        for (int p = 0; p < PARTS; p++) widen(codes, p).mul(d).intoArray(out, o + p * L);
    }

    /** out[o..o+16) = d * codes + m. */
    private static void mulAdd(ByteVector codes, float d, float m, float[] out, int o) {
        for (int p = 0; p < PARTS; p++) widen(codes, p).mul(d).add(m).intoArray(out, o + p * L);
    }

    /** out[o..o+16) = d * codes - m. */
    private static void mulSub(ByteVector codes, float d, float m, float[] out, int o) {
        for (int p = 0; p < PARTS; p++) widen(codes, p).mul(d).sub(m).intoArray(out, o + p * L);
    }

    private static FloatVector widen(ByteVector codes, int part) {
        return (FloatVector) codes.convertShape(VectorOperators.B2F, F, part);
    }

    private static ByteVector bytes(byte[] raw, int at) { return ByteVector.fromArray(B, raw, at); }

    private static ByteVector low(ByteVector v) { return v.and((byte) 15); }

    private static ByteVector high(ByteVector v) { return bits(v, 4, 15, 0); }

    /**
     * {@code ((v >>> shift) & mask) << up} in every byte lane, for masks that keep each byte's own bits. Shifted as
     * 16-bit lanes: x86 has no byte shifts (a byte-lane shift compiles to a widen, shift and narrow).
     */
    private static ByteVector bits(ByteVector v, int shift, int mask, int up) {
        return v.reinterpretAsShorts().lanewise(VectorOperators.LSHR, shift).and((short) (mask * 0x0101)).lanewise(VectorOperators.LSHL, up).reinterpretAsBytes();
    }

    private static float half(byte[] raw, int at) { return Float.float16ToFloat((short) ((raw[at] & 0xff) | raw[at + 1] << 8)); }

    private static int u8(byte[] raw, int at) { return raw[at] & 0xff; }

    /** d, qs[32]. */
    private static void q8_0(byte[] raw, int blocks, float[] out, int o) {
        for (int b = 0, r = 0; b < blocks; b++, r += 34, o += 32) {
            float d = half(raw, r);
            mul(bytes(raw, r + 2), d, out, o);
            mul(bytes(raw, r + 18), d, out, o + 16);
        }
    }

    /** d, qs[16]: value j is the low nibble of qs[j], value 16 + j its high nibble, minus 8. */
    private static void q4_0(byte[] raw, int blocks, float[] out, int o) {
        for (int b = 0, r = 0; b < blocks; b++, r += 18, o += 32) {
            float d = half(raw, r);
            ByteVector q = bytes(raw, r + 2);
            mul(low(q).sub((byte) 8), d, out, o);
            mul(high(q).sub((byte) 8), d, out, o + 16);
        }
    }

    /** d, m, qs[16]: as Q4_0 without the 8, plus m. */
    private static void q4_1(byte[] raw, int blocks, float[] out, int o) {
        for (int b = 0, r = 0; b < blocks; b++, r += 20, o += 32) {
            float d = half(raw, r), m = half(raw, r + 2);
            ByteVector q = bytes(raw, r + 4);
            mulAdd(low(q), d, m, out, o);
            mulAdd(high(q), d, m, out, o + 16);
        }
    }

    /** codes | 16 in the lanes j whose bit of the 16 qh bits that {@code half} picks is set (as {@link #withBit4}). */
    private static ByteVector fifth(ByteVector codes, ByteVector qh, VectorShuffle<Byte> half) {
        return codes.lanewise(VectorOperators.OR, (byte) 16, qh.rearrange(half).and(LANE_BIT).compare(VectorOperators.NE, (byte) 0));
    }

    /** d, qh u32, qs[16]: Q4_0's nibbles with bit j (values j) or 16 + j (values 16 + j) of qh as the fifth bit, minus 16. */
    private static void q5_0(byte[] raw, int blocks, float[] out, int o) {
        for (int b = 0, r = 0; b < blocks; b++, r += 22, o += 32) {
            float d = half(raw, r);
            ByteVector q = bytes(raw, r + 6), qh = bytes(raw, r + 2);
            mul(fifth(low(q), qh, QH_LOW).sub((byte) 16), d, out, o);
            mul(fifth(high(q), qh, QH_HIGH).sub((byte) 16), d, out, o + 16);
        }
    }

    /** d, m, qh u32, qs[16]: as Q5_0 without the 16, plus m. */
    private static void q5_1(byte[] raw, int blocks, float[] out, int o) {
        for (int b = 0, r = 0; b < blocks; b++, r += 24, o += 32) {
            float d = half(raw, r), m = half(raw, r + 2);
            ByteVector q = bytes(raw, r + 8), qh = bytes(raw, r + 4);
            mulAdd(fifth(low(q), qh, QH_LOW), d, m, out, o);
            mulAdd(fifth(high(q), qh, QH_HIGH), d, m, out, o + 16);
        }
    }

    /**
     * scales[16], qs[64], d, dmin: 16 sub-blocks of 16 with a 4-bit scale and min each; value 128h + 32t + j is
     * bits 2t, 2t + 1 of qs[32h + j], in sub-block 8h + 2t + j / 16.
     */
    private static void q2k(byte[] raw, int blocks, float[] out, int o) {
        for (int b = 0, r = 0; b < blocks; b++, r += 84, o += 256) {
            float d = half(raw, r + 80), dmin = half(raw, r + 82);
            for (int h = 0; h < 2; h++) {
                ByteVector q0 = bytes(raw, r + 16 + 32 * h), q1 = bytes(raw, r + 32 + 32 * h);
                for (int t = 0; t < 4; t++) {
                    int s = 8 * h + 2 * t, sc0 = u8(raw, r + s), sc1 = u8(raw, r + s + 1), e = o + 128 * h + 32 * t;
                    mulSub(bits(q0, 2 * t, 3, 0), d * (sc0 & 15), dmin * (sc0 >> 4), out, e);
                    mulSub(bits(q1, 2 * t, 3, 0), d * (sc1 & 15), dmin * (sc1 >> 4), out, e + 16);
                }
            }
        }
    }

    /**
     * hmask[32], qs[64], scales[12], d: low 2 bits as Q2_K, minus 4 where the high bit (bit 4h + t of hmask[j]) is
     * clear; 6-bit signed scales (4 low bits from scales[0..8), 2 high bits from scales[8..12)).
     */
    private static void q3k(byte[] raw, int blocks, float[] out, int o) {
        for (int b = 0, r = 0; b < blocks; b++, r += 110, o += 256) {
            float d = half(raw, r + 108);
            ByteVector clear0 = bytes(raw, r).not(), clear1 = bytes(raw, r + 16).not();
            for (int h = 0; h < 2; h++) {
                ByteVector q0 = bytes(raw, r + 32 + 32 * h), q1 = bytes(raw, r + 48 + 32 * h);
                for (int t = 0; t < 4; t++) {
                    int i = 8 * h + 2 * t, e = o + 128 * h + 32 * t, bit = 4 * h + t;
                    mul(bits(q0, 2 * t, 3, 0).sub(minus4(clear0, bit)), d * (q3scale(raw, r, i) - 32), out, e);
                    mul(bits(q1, 2 * t, 3, 0).sub(minus4(clear1, bit)), d * (q3scale(raw, r, i + 1) - 32), out, e + 16);
                }
            }
        }
    }

    private static ByteVector minus4(ByteVector clear, int bit) {
        return bits(clear, bit, 1, 2);
    }

    /** Q3_K's 6-bit scale i (unsigned, 0..63). */
    private static int q3scale(byte[] raw, int r, int i) {
        int lo4 = (u8(raw, r + 96 + i % 8) >> (4 * (i / 8))) & 15;
        int hi2 = (u8(raw, r + 104 + i % 4) >> (2 * (i / 4))) & 3;
        return lo4 | hi2 << 4;
    }

    /** Q4_K/Q5_K's 6-bit scale (min when {@code min}) of sub-block i, from scales[12] at raw[r + 4..]. */
    private static int k6(byte[] raw, int r, int i, boolean min) {
        int s = r + 4;
        if (i < 4) return u8(raw, s + i + (min ? 4 : 0)) & 63;
        return min ? (u8(raw, s + i + 4) >> 4) | (u8(raw, s + i) >> 6) << 4
                : (u8(raw, s + i + 4) & 15) | (u8(raw, s + i - 4) >> 6) << 4;
    }

    /** d, dmin, scales[12], qs[128]: 8 sub-blocks of 32; sub-blocks 2c and 2c + 1 are the low and high nibbles of qs[32c..]. */
    private static void q4k(byte[] raw, int blocks, float[] out, int o) {
        for (int b = 0, r = 0; b < blocks; b++, r += 144, o += 256) {
            float d = half(raw, r), dmin = half(raw, r + 2);
            for (int c = 0; c < 4; c++) {
                ByteVector q0 = bytes(raw, r + 16 + 32 * c), q1 = bytes(raw, r + 32 + 32 * c);
                int e = o + 64 * c, i = 2 * c;
                float d0 = d * k6(raw, r, i, false), m0 = dmin * k6(raw, r, i, true);
                float d1 = d * k6(raw, r, i + 1, false), m1 = dmin * k6(raw, r, i + 1, true);
                mulSub(low(q0), d0, m0, out, e);
                mulSub(low(q1), d0, m0, out, e + 16);
                mulSub(high(q0), d1, m1, out, e + 32);
                mulSub(high(q1), d1, m1, out, e + 48);
            }
        }
    }

    /**
     * Q4_K with qh[32] before qs: bit i of qh[j] is the fifth bit of value j of sub-block i. One sub-block per pass
     * of the loop: with the four of Q4_K's loop body, C2's inlining budget (NodeCountInliningCutoff) ran out before
     * the last of them, whose vectors were then boxed (Q5_K decoded 2-3x slower than Q4_K).
     */
    private static void q5k(byte[] raw, int blocks, float[] out, int o) {
        for (int b = 0, r = 0; b < blocks; b++, r += 176, o += 256) {
            float d = half(raw, r), dmin = half(raw, r + 2);
            for (int i = 0; i < 8; i++) {
                int q = r + 48 + 32 * (i >> 1), nibble = 4 * (i & 1), e = o + 32 * i;
                float di = d * k6(raw, r, i, false), mi = dmin * k6(raw, r, i, true);
                mulSub(withBit4(bits(bytes(raw, q), nibble, 15, 0), bytes(raw, r + 16), i), di, mi, out, e);
                mulSub(withBit4(bits(bytes(raw, q + 16), nibble, 15, 0), bytes(raw, r + 32), i), di, mi, out, e + 16);
            }
        }
    }

    /**
     * codes | 16 in the lanes where bit i of h is set: a bit test and a masked or (AVX-512 {@code vptestmb} and a
     * masked {@code vpor}), measured 15% faster for Q5_K than moving the bit with byte-lane shifts.
     */
    private static ByteVector withBit4(ByteVector codes, ByteVector h, int i) {
        return codes.lanewise(VectorOperators.OR, (byte) 16, h.and((byte) (1 << i)).compare(VectorOperators.NE, (byte) 0));
    }

    /**
     * ql[128], qh[64], scales int8[16], d: 6-bit values (4 low + 2 high bits) minus 32, a scale per 16. Value
     * 128h + 32q + l: low nibble of ql[64h + l] (q = 0), of ql[64h + 32 + l] (1), their high nibbles (2, 3); high
     * 2 bits from qh[32h + l] >> 2q. One group of 16 per pass of the loop, for C2's inlining budget as in Q5_K.
     */
    private static void q6k(byte[] raw, int blocks, float[] out, int o) {
        for (int b = 0, r = 0; b < blocks; b++, r += 210, o += 256) {
            float d = half(raw, r + 208);
            for (int g = 0; g < 16; g++) {
                int h = g >> 3, q = (g >> 1) & 3, l = 16 * (g & 1);
                ByteVector low = bits(bytes(raw, r + 64 * h + 32 * (q & 1) + l), 4 * (q >> 1), 15, 0);
                ByteVector six = low.or(bits(bytes(raw, r + 128 + 32 * h + l), 2 * q, 3, 4)).sub((byte) 32);
                mul(six, d * raw[r + 192 + 8 * h + l / 16 + 2 * q], out, o + 128 * h + 32 * q + l);
            }
        }
    }

    /** d, qs[16]: Q4_0's nibble order, each nibble an index into the IQ4 grid. */
    private static void iq4nl(byte[] raw, int blocks, float[] out, int o) {
        for (int b = 0, r = 0; b < blocks; b++, r += 18, o += 32) {
            float d = half(raw, r);
            ByteVector q = bytes(raw, r + 2);
            mul(low(q).selectFrom(IQ4_GRID), d, out, o);
            mul(high(q).selectFrom(IQ4_GRID), d, out, o + 16);
        }
    }

    /** d, scales_h u16, scales_l[4], qs[128]: 8 sub-blocks of 32 as IQ4_NL's with 6-bit scales minus 32. */
    private static void iq4xs(byte[] raw, int blocks, float[] out, int o) {
        for (int b = 0, r = 0; b < blocks; b++, r += 136, o += 256) {
            float d = half(raw, r);
            int scalesH = u8(raw, r + 2) | u8(raw, r + 3) << 8;
            for (int i = 0; i < 8; i++) {
                int ls = ((u8(raw, r + 4 + i / 2) >> (4 * (i % 2))) & 15) | ((scalesH >> (2 * i)) & 3) << 4;
                float dl = d * (ls - 32);
                ByteVector q = bytes(raw, r + 8 + 16 * i);
                mul(low(q).selectFrom(IQ4_GRID), dl, out, o + 32 * i);
                mul(high(q).selectFrom(IQ4_GRID), dl, out, o + 32 * i + 16);
            }
        }
    }
}
