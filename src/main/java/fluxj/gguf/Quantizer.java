package fluxj.gguf;

import fluxj.tensor.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/**
 * f32 values to GGUF data, byte for byte as ggml's reference quantizers ({@code quantize_row_*_ref}, which gguf-py
 * reproduces): Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, and the float types BF16 (ggml's rounding, NaN kept quiet), F16 and
 * F32. Every step is the f32 operation ggml performs (the scale's reciprocal computed once per block, products
 * truncated toward zero after adding the rounding offset). K-quants and IQ4 have no quantizer here; {@link #random}
 * fills blocks of any type with random valid contents (for benchmarks and memory measurements).
 */
public final class Quantizer {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Quantizer() {}

    /** Whether {@link #quantize} writes {@code dt}. */
    public static boolean canQuantize(DType dt) {
        return switch (dt) {
            case F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 -> true;
            default -> false;
        };
    }

    /** x[from, from + n) as {@code dt} into {@code out} at byte {@code at}; n a whole number of blocks. */
    public static void quantize(DType dt, float[] x, int from, int n, MemorySegment out, long at) {
        int bv = dt.blockValues();
        if (n % bv != 0) throw new IllegalArgumentException(n + " values are not whole " + dt + " blocks");
        for (int b = 0; b < n / bv; b++) {
            int o = from + b * bv;
            long p = at + (long) b * dt.blockBytes();
            switch (dt) {
                case F32 -> out.set(F32, p, x[o]);
                case F16 -> out.set(I16, p, Float.floatToFloat16(x[o]));
                case BF16 -> out.set(I16, p, bf16(x[o]));
                case Q8_0 -> q8_0(x, o, out, p);
                case Q4_0 -> q4_0(x, o, out, p);
                case Q4_1 -> q4_1(x, o, out, p);
                case Q5_0 -> q5_0(x, o, out, p);
                case Q5_1 -> q5_1(x, o, out, p);
                default -> throw new IllegalArgumentException("no quantizer for " + dt);
            }
        }
    }

    /** ggml's f32 to bf16: round to nearest even; NaNs stay NaN (made quiet) with their sign. */
    static short bf16(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) return (short) ((u >>> 16) | 64);
        return (short) ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16);
    }

    /** C's roundf (halves away from zero), computed exactly: floor(a) plus 1 when the fraction is at least a half. */
    private static float roundf(float v) {
        float a = Math.abs(v), f = (float) Math.floor(a);
        return Math.copySign(f + (float) Math.floor(2 * (a - f)), v);
    }

    private static void q8_0(float[] x, int o, MemorySegment out, long p) {
        float amax = 0f;
        for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[o + j]));
        float d = amax / 127, id = d != 0 ? 1.0f / d : 0f;
        out.set(I16, p, Float.floatToFloat16(d));
        for (int j = 0; j < 32; j++) out.set(ValueLayout.JAVA_BYTE, p + 2 + j, (byte) roundf(x[o + j] * id));
    }

    /** The value of largest magnitude (the first one on ties), sign kept. */
    private static float signedMax(float[] x, int o) {
        float amax = 0f, max = 0f;
        for (int j = 0; j < 32; j++) {
            float v = x[o + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        return max;
    }

    private static void q4_0(float[] x, int o, MemorySegment out, long p) {
        float d = signedMax(x, o) / -8, id = d != 0 ? 1.0f / d : 0f;
        out.set(I16, p, Float.floatToFloat16(d));
        for (int j = 0; j < 16; j++) {
            int lo = Math.min(15, (int) (x[o + j] * id + 8.5f)), hi = Math.min(15, (int) (x[o + 16 + j] * id + 8.5f));
            out.set(ValueLayout.JAVA_BYTE, p + 2 + j, (byte) (lo | hi << 4));
        }
    }

    private static void q4_1(float[] x, int o, MemorySegment out, long p) {
        float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        for (int j = 0; j < 32; j++) {
            min = Math.min(min, x[o + j]);
            max = Math.max(max, x[o + j]);
        }
        float d = (max - min) / 15, id = d != 0 ? 1.0f / d : 0f;
        out.set(I16, p, Float.floatToFloat16(d));
        out.set(I16, p + 2, Float.floatToFloat16(min));
        for (int j = 0; j < 16; j++) {
            int lo = Math.min(15, (int) ((x[o + j] - min) * id + 0.5f)), hi = Math.min(15, (int) ((x[o + 16 + j] - min) * id + 0.5f));
            out.set(ValueLayout.JAVA_BYTE, p + 4 + j, (byte) (lo | hi << 4));
        }
    }

    private static void q5_0(float[] x, int o, MemorySegment out, long p) {
        float d = signedMax(x, o) / -16, id = d != 0 ? 1.0f / d : 0f;
        out.set(I16, p, Float.floatToFloat16(d));
        int qh = 0;
        for (int j = 0; j < 16; j++) {
            int lo = Math.min(31, (int) (x[o + j] * id + 16.5f)), hi = Math.min(31, (int) (x[o + 16 + j] * id + 16.5f));
            out.set(ValueLayout.JAVA_BYTE, p + 6 + j, (byte) ((lo & 15) | (hi & 15) << 4));
            qh |= (lo >> 4) << j | (hi >> 4) << (j + 16);
        }
        out.set(I32, p + 2, qh);
    }

    private static void q5_1(float[] x, int o, MemorySegment out, long p) {
        float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        for (int j = 0; j < 32; j++) {
            min = Math.min(min, x[o + j]);
            max = Math.max(max, x[o + j]);
        }
        float d = (max - min) / 31, id = d != 0 ? 1.0f / d : 0f;
        out.set(I16, p, Float.floatToFloat16(d));
        out.set(I16, p + 2, Float.floatToFloat16(min));
        int qh = 0;
        for (int j = 0; j < 16; j++) {
            int lo = Math.min(31, (int) ((x[o + j] - min) * id + 0.5f)), hi = Math.min(31, (int) ((x[o + 16 + j] - min) * id + 0.5f));
            out.set(ValueLayout.JAVA_BYTE, p + 8 + j, (byte) ((lo & 15) | (hi & 15) << 4));
            qh |= (lo >> 4) << j | (hi >> 4) << (j + 16);
        }
        out.set(I32, p + 4, qh);
    }

    /**
     * {@code blocks} random blocks of block type {@code dt} at {@code out[at..]}: random codes, and f16 scales
     * (and mins) set so decoded values stay within about +-{@code amplitude}.
     */
    public static void random(DType dt, long blocks, float amplitude, SplittableRandom rnd, MemorySegment out, long at) {
        int bb = dt.blockBytes();
        byte[] b = new byte[bb];
        for (long i = 0; i < blocks; i++) {
            rnd.nextBytes(b);
            MemorySegment.copy(b, 0, out, ValueLayout.JAVA_BYTE, at + i * bb, bb);
            long p = at + i * bb;
            switch (dt) {
                case Q8_0, IQ4_NL -> out.set(I16, p, Float.floatToFloat16(amplitude / 127));
                case Q4_0 -> out.set(I16, p, Float.floatToFloat16(amplitude / 8));
                case Q5_0 -> out.set(I16, p, Float.floatToFloat16(amplitude / 16));
                case Q4_1 -> { out.set(I16, p, Float.floatToFloat16(amplitude / 8)); out.set(I16, p + 2, Float.floatToFloat16(-amplitude)); }
                case Q5_1 -> { out.set(I16, p, Float.floatToFloat16(amplitude / 16)); out.set(I16, p + 2, Float.floatToFloat16(-amplitude)); }
                case Q2_K -> { out.set(I16, p + 80, Float.floatToFloat16(amplitude / 45)); out.set(I16, p + 82, Float.floatToFloat16(amplitude / 45)); }
                case Q3_K -> out.set(I16, p + 108, Float.floatToFloat16(amplitude / 124));
                case Q4_K -> { out.set(I16, p, Float.floatToFloat16(amplitude / 945)); out.set(I16, p + 2, Float.floatToFloat16(amplitude / 945)); }
                case Q5_K -> { out.set(I16, p, Float.floatToFloat16(amplitude / 1953)); out.set(I16, p + 2, Float.floatToFloat16(amplitude / 1953)); }
                case Q6_K -> out.set(I16, p + 208, Float.floatToFloat16(amplitude / 4064));
                case IQ4_XS -> out.set(I16, p, Float.floatToFloat16(amplitude / 4064));
                default -> throw new IllegalArgumentException(dt + " is not a block type");
            }
        }
    }
}
