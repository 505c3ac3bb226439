package fluxj.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The vector decoders of {@link Blocks} against a scalar transcription of ggml's {@code dequantize_row_*}, on
 * random bytes (every code, scale and min bit pattern, f16 subnormals, infinities and NaNs included), over
 * spans that start and end inside blocks and cross the decoder's chunks. The fixture test
 * ({@code GgufBlockTypesTest}) pins the same decoders to values decoded by ggml itself.
 */
class BlocksTest {
    private static final DType[] TYPES = {DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.Q2_K, DType.Q3_K,
            DType.Q4_K, DType.Q5_K, DType.Q6_K, DType.IQ4_NL, DType.IQ4_XS};

    @Test
    void vectorDecodersMatchGgmlsScalarFormulas() {
        SplittableRandom rnd = new SplittableRandom(12);
        for (DType dt : TYPES) {
            int blocks = 9000 / dt.blockValues() + 3, n = blocks * dt.blockValues();
            byte[] bytes = new byte[blocks * dt.blockBytes()];
            rnd.nextBytes(bytes);
            MemorySegment seg = Arena.ofAuto().allocate(bytes.length);
            MemorySegment.copy(bytes, 0, seg, ValueLayout.JAVA_BYTE, 0, bytes.length);
            float[] want = new float[n];
            for (int b = 0; b < blocks; b++) reference(dt, bytes, b * dt.blockBytes(), want, b * dt.blockValues());
            float[] all = new float[n];
            Blocks.decode(dt, seg, 0, blocks, all, 0);
            assertSame(dt, want, 0, all, 0, n, "whole");
            for (int i = 0; i < 20; i++) {
                int from = rnd.nextInt(n), len = rnd.nextInt(n - from + 1);
                float[] got = new float[len + 3];
                Blocks.span(dt, seg, from, len, got, 3);
                assertSame(dt, want, from, got, 3, len, "span " + from + "+" + len);
            }
            for (int i = 0; i < n; i += 61) assertEquals(Float.floatToIntBits(want[i]), Float.floatToIntBits(Blocks.get(dt, seg, i)), dt + " get " + i);
        }
    }

    /** NaNs compare as NaN (their payload is the platform's); every other value bit for bit. */
    private static void assertSame(DType dt, float[] want, int wo, float[] got, int go, int n, String what) {
        for (int i = 0; i < n; i++) {
            assertEquals(Float.floatToIntBits(want[wo + i]), Float.floatToIntBits(got[go + i]), dt + " " + what + " element " + (wo + i));
        }
    }

    private static int u8(byte[] x, int i) { return x[i] & 0xff; }

    private static float f16(byte[] x, int i) { return Float.float16ToFloat((short) (u8(x, i) | u8(x, i + 1) << 8)); }

    private static final int[] IQ4 = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    /** One block at x[p..] into y[o..], as ggml's dequantize_row_* writes it. */
    private static void reference(DType dt, byte[] x, int p, float[] y, int o) {
        switch (dt) {
            case Q8_0 -> {
                float d = f16(x, p);
                for (int j = 0; j < 32; j++) y[o + j] = x[p + 2 + j] * d;
            }
            case Q4_0, Q4_1, IQ4_NL -> {
                boolean one = dt == DType.Q4_1;
                float d = f16(x, p), m = one ? f16(x, p + 2) : 0;
                int qs = p + (one ? 4 : 2);
                for (int j = 0; j < 16; j++) {
                    int lo = u8(x, qs + j) & 15, hi = u8(x, qs + j) >> 4;
                    switch (dt) {
                        case Q4_0 -> { y[o + j] = (lo - 8) * d; y[o + j + 16] = (hi - 8) * d; }
                        case Q4_1 -> { y[o + j] = lo * d + m; y[o + j + 16] = hi * d + m; }
                        default -> { y[o + j] = d * IQ4[lo]; y[o + j + 16] = d * IQ4[hi]; }
                    }
                }
            }
            case Q5_0, Q5_1 -> {
                boolean one = dt == DType.Q5_1;
                float d = f16(x, p), m = one ? f16(x, p + 2) : 0;
                int h = p + (one ? 4 : 2), qh = u8(x, h) | u8(x, h + 1) << 8 | u8(x, h + 2) << 16 | u8(x, h + 3) << 24, qs = h + 4;
                for (int j = 0; j < 16; j++) {
                    int xh0 = ((qh >>> j) << 4) & 0x10, xh1 = (qh >>> (j + 12)) & 0x10;
                    int x0 = (u8(x, qs + j) & 15) | xh0, x1 = (u8(x, qs + j) >> 4) | xh1;
                    if (one) { y[o + j] = x0 * d + m; y[o + j + 16] = x1 * d + m; }
                    else { y[o + j] = (x0 - 16) * d; y[o + j + 16] = (x1 - 16) * d; }
                }
            }
            case Q2_K -> {
                float d = f16(x, p + 80), min = f16(x, p + 82);
                int is = 0, q = p + 16;
                for (int n = 0; n < 256; n += 128, q += 32) {
                    for (int shift = 0; shift < 8; shift += 2) {
                        for (int half = 0; half < 2; half++) {
                            int sc = u8(x, p + is++);
                            float dl = d * (sc & 15), ml = min * (sc >> 4);
                            for (int l = 0; l < 16; l++) y[o++] = dl * ((u8(x, q + 16 * half + l) >> shift) & 3) - ml;
                        }
                    }
                }
            }
            case Q3_K -> {
                float dAll = f16(x, p + 108);
                int[] scales = new int[16];
                for (int i = 0; i < 16; i++) {
                    int lo = i < 8 ? u8(x, p + 96 + i) & 15 : u8(x, p + 96 + i - 8) >> 4;
                    scales[i] = (lo | ((u8(x, p + 104 + i % 4) >> (2 * (i / 4))) & 3) << 4) - 32;
                }
                int is = 0, q = p + 32, m = 1;
                for (int n = 0; n < 256; n += 128, q += 32) {
                    for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
                        for (int half = 0; half < 2; half++) {
                            float dl = dAll * scales[is++];
                            for (int l = 16 * half; l < 16 * half + 16; l++) {
                                y[o++] = dl * (((u8(x, q + l) >> shift) & 3) - ((u8(x, p + l) & m) != 0 ? 0 : 4));
                            }
                        }
                    }
                }
            }
            case Q4_K, Q5_K -> {
                boolean five = dt == DType.Q5_K;
                float d = f16(x, p), min = f16(x, p + 2);
                int q = p + (five ? 48 : 16), is = 0, u1 = 1, u2 = 2;
                for (int j = 0; j < 256; j += 64, q += 32, is += 2, u1 <<= 2, u2 <<= 2) {
                    float d1 = d * scaleK(x, p + 4, is), m1 = min * minK(x, p + 4, is);
                    float d2 = d * scaleK(x, p + 4, is + 1), m2 = min * minK(x, p + 4, is + 1);
                    for (int l = 0; l < 32; l++) y[o++] = d1 * ((u8(x, q + l) & 15) + (five && (u8(x, p + 16 + l) & u1) != 0 ? 16 : 0)) - m1;
                    for (int l = 0; l < 32; l++) y[o++] = d2 * ((u8(x, q + l) >> 4) + (five && (u8(x, p + 16 + l) & u2) != 0 ? 16 : 0)) - m2;
                }
            }
            case Q6_K -> {
                float d = f16(x, p + 208);
                int ql = p, qh = p + 128, sc = p + 192;
                for (int n = 0; n < 256; n += 128, ql += 64, qh += 32, sc += 8) {
                    for (int l = 0; l < 32; l++) {
                        int is = l / 16;
                        int q1 = ((u8(x, ql + l) & 15) | ((u8(x, qh + l) & 3) << 4)) - 32;
                        int q2 = ((u8(x, ql + l + 32) & 15) | (((u8(x, qh + l) >> 2) & 3) << 4)) - 32;
                        int q3 = ((u8(x, ql + l) >> 4) | (((u8(x, qh + l) >> 4) & 3) << 4)) - 32;
                        int q4 = ((u8(x, ql + l + 32) >> 4) | (((u8(x, qh + l) >> 6) & 3) << 4)) - 32;
                        y[o + n + l] = d * x[sc + is] * q1;
                        y[o + n + l + 32] = d * x[sc + is + 2] * q2;
                        y[o + n + l + 64] = d * x[sc + is + 4] * q3;
                        y[o + n + l + 96] = d * x[sc + is + 6] * q4;
                    }
                }
            }
            case IQ4_XS -> {
                float d = f16(x, p);
                int scalesH = u8(x, p + 2) | u8(x, p + 3) << 8, qs = p + 8;
                for (int ib = 0; ib < 8; ib++, qs += 16) {
                    int ls = ((u8(x, p + 4 + ib / 2) >> (4 * (ib % 2))) & 15) | ((scalesH >> (2 * ib)) & 3) << 4;
                    float dl = d * (ls - 32);
                    for (int j = 0; j < 16; j++) {
                        y[o + 32 * ib + j] = dl * IQ4[u8(x, qs + j) & 15];
                        y[o + 32 * ib + j + 16] = dl * IQ4[u8(x, qs + j) >> 4];
                    }
                }
            }
            default -> throw new IllegalArgumentException(dt.name());
        }
    }

    /** ggml's get_scale_min_k4: the 6-bit scale of sub-block j from scales[12] at x[s..]. */
    private static int scaleK(byte[] x, int s, int j) {
        return j < 4 ? u8(x, s + j) & 63 : (u8(x, s + j + 4) & 15) | (u8(x, s + j - 4) >> 6) << 4;
    }

    private static int minK(byte[] x, int s, int j) {
        return j < 4 ? u8(x, s + j + 4) & 63 : (u8(x, s + j + 4) >> 4) | (u8(x, s + j) >> 6) << 4;
    }
}
