package fluxj.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The element types of weights: those of the safetensors format, and the block-quantized types of GGUF files
 * (ggml's Q8_0 ... IQ4_XS), which store {@link #blockValues()} values in {@link #blockBytes()} bytes and widen
 * to f32 exactly as ggml's {@code dequantize_row_*} (see {@link Blocks}).
 */
public enum DType {
    F64(8), F32(4), F16(2), BF16(2), F8_E4M3(1), F8_E5M2(1), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1),
    Q8_0(32, 34), Q4_0(32, 18), Q4_1(32, 20), Q5_0(32, 22), Q5_1(32, 24),
    Q2_K(256, 84), Q3_K(256, 110), Q4_K(256, 144), Q5_K(256, 176), Q6_K(256, 210),
    IQ4_NL(32, 18), IQ4_XS(256, 136);

    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int values, bytes;

    DType(int size) { this(1, size); }

    DType(int values, int bytes) {
        this.values = values;
        this.bytes = bytes;
    }

    /** Bytes per element; block-quantized types have none (see {@link #bytes}). */
    public int byteSize() {
        if (values != 1) throw new IllegalStateException(this + " stores blocks of " + values + " values, not single elements");
        return bytes;
    }

    /** Values per block: 1 for element types, 32 or 256 for GGUF block types. */
    public int blockValues() { return values; }

    /** Bytes per block (per element for element types). */
    public int blockBytes() { return bytes; }

    public boolean isBlock() { return values != 1; }

    /**
     * Bytes of {@code n} values (a whole number of blocks), with overflow checked.
     *
     * @throws ArithmeticException on overflow, IllegalArgumentException when n is not a whole number of blocks
     */
    public long bytes(long n) {
        if (n < 0 || n % values != 0) throw new IllegalArgumentException(n + " values are not a whole number of " + this + " blocks of " + values);
        return Math.multiplyExact(n / values, (long) bytes);
    }

    /** Floating-point data, including the block types (which decode to f32). */
    public boolean isFloat() { return ordinal() <= F8_E5M2.ordinal() || isBlock(); }

    public boolean isFp8() { return this == F8_E4M3 || this == F8_E5M2; }

    /** The safetensors name of a dtype, or null when it is not one the format defines. */
    public static DType fromSafetensors(String name) {
        return switch (name) {
            case "F64" -> F64; case "F32" -> F32; case "F16" -> F16; case "BF16" -> BF16;
            case "F8_E4M3" -> F8_E4M3; case "F8_E5M2" -> F8_E5M2;
            case "I64" -> I64; case "I32" -> I32; case "I16" -> I16; case "I8" -> I8;
            case "U8" -> U8; case "BOOL" -> BOOL;
            default -> null;
        };
    }

    /** Element {@code i} of {@code seg}, widened exactly to f32 (integers and F64 rounded to nearest). */
    public float get(MemorySegment seg, long i) {
        return switch (this) {
            case F32 -> seg.get(F32_LE, i * 4);
            case F16 -> Float.float16ToFloat(seg.get(I16_LE, i * 2));
            case BF16 -> bf16ToFloat(seg.get(I16_LE, i * 2));
            case F8_E4M3 -> FP8_E4M3_TABLE[seg.get(ValueLayout.JAVA_BYTE, i) & 0xff];
            case F8_E5M2 -> FP8_E5M2_TABLE[seg.get(ValueLayout.JAVA_BYTE, i) & 0xff];
            case F64 -> (float) seg.get(F64_LE, i * 8);
            case I64 -> (float) seg.get(I64_LE, i * 8);
            case I32 -> (float) seg.get(I32_LE, i * 4);
            case I16 -> seg.get(I16_LE, i * 2);
            case I8 -> seg.get(ValueLayout.JAVA_BYTE, i);
            case U8, BOOL -> seg.get(ValueLayout.JAVA_BYTE, i) & 0xff;
            default -> Blocks.get(this, seg, i);
        };
    }

    /** Element {@code i} as a long, for integer tensors (e.g. position ids). */
    public long getLong(MemorySegment seg, long i) {
        return switch (this) {
            case I64 -> seg.get(I64_LE, i * 8);
            case I32 -> seg.get(I32_LE, i * 4);
            case I16 -> seg.get(I16_LE, i * 2);
            case I8 -> seg.get(ValueLayout.JAVA_BYTE, i);
            case U8, BOOL -> seg.get(ValueLayout.JAVA_BYTE, i) & 0xff;
            default -> (long) get(seg, i);
        };
    }

    public static float bf16ToFloat(short bits) { return Float.intBitsToFloat((bits & 0xffff) << 16); }

    /** Round-to-nearest-even f32 to bf16, as torch does (NaN kept NaN). */
    public static short floatToBf16(float f) {
        int b = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) 0x7fc0;
        int rounded = b + 0x7fff + ((b >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    /** All 256 float8_e4m3fn values: bias 7, no infinities, 0x7f/0xff are NaN. */
    public static final float[] FP8_E4M3_TABLE = new float[256];
    /** All 256 float8_e5m2 values: an f16 with the low byte cut off. */
    public static final float[] FP8_E5M2_TABLE = new float[256];

    static {
        for (int b = 0; b < 256; b++) {
            int sign = (b >> 7) & 1, exp = (b >> 3) & 0xf, man = b & 7;
            float v;
            if (exp == 0xf && man == 7) v = Float.NaN;
            else if (exp == 0) v = man / 8f * (float) Math.pow(2, -6);
            else v = (1 + man / 8f) * (float) Math.pow(2, exp - 7);
            FP8_E4M3_TABLE[b] = sign == 1 ? -v : v;
            FP8_E5M2_TABLE[b] = Float.float16ToFloat((short) (b << 8));
        }
    }

    /** Round-to-nearest-even f32 to float8_e4m3fn with saturation to +-448 (as torch's cast of in-range values). */
    public static byte floatToFp8E4M3(float f) {
        if (Float.isNaN(f)) return (byte) 0x7f;
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 24) & 0x80;
        float a = Math.abs(f);
        int code;
        if (a < 0x1p-6f) {
            // Subnormals are multiples of 2^-9; rint rounds half to even, and 8 * 2^-9 is code 0x08 = 2^-6.
            code = (int) Math.rint(a * 512f);
        } else {
            // Round the f32 mantissa to 3 bits, half to even; a carry moves into the exponent as it should.
            int ab = bits & 0x7fffffff;
            int r = ab + 0x7ffff + ((ab >>> 20) & 1);
            code = Math.min(0x7e, (((r >>> 23) - 120) << 3) | ((r >>> 20) & 7));
        }
        return (byte) (sign | code);
    }
}
