package fluxj.tensor.onednn;

import fluxj.tensor.DType;
import fluxj.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The vectorised narrowing is bit-identical to the scalar round-to-nearest-even of {@link DType#floatToBf16}. */
class Bf16Test {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void floatsRoundLikeTorch() {
        Random rnd = new Random(1);
        float[] x = new float[1000];
        for (int i = 0; i < x.length; i++) x[i] = Float.intBitsToFloat(rnd.nextInt());
        // Exact ties (both parities), NaNs whose rounding would carry into the exponent, infinities, signed zeros.
        float[] special = {Float.intBitsToFloat(0x3f808000), Float.intBitsToFloat(0x3f818000), Float.intBitsToFloat(0x7f80ffff),
                Float.intBitsToFloat(0xffffffff), Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f, 0f,
                Float.MAX_VALUE, Float.MIN_VALUE, Float.intBitsToFloat(0x7f7fffff)};
        System.arraycopy(special, 0, x, 3, special.length);
        System.arraycopy(special, 0, x, x.length - special.length, special.length);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(2L * (x.length + 5));
            Bf16.fromFloats(x, 2, x.length - 2, out, 5);
            for (int i = 2; i < x.length; i++) {
                assertEquals(DType.floatToBf16(x[i]), out.getAtIndex(I16, i + 3), "x[" + i + "] = " + Integer.toHexString(Float.floatToRawIntBits(x[i])));
            }
        }
    }

    @Test
    void weightRowsOfEveryFloatType() {
        Random rnd = new Random(2);
        for (DType dt : new DType[] {DType.F32, DType.F16, DType.BF16, DType.F8_E4M3, DType.F8_E5M2, DType.F64}) {
            int rows = 5, cols = 37;
            try (Arena a = Arena.ofConfined()) {
                MemorySegment data = a.allocate((long) rows * cols * dt.byteSize());
                for (long i = 0; i < data.byteSize(); i++) data.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt());
                Tensor w = new Tensor("w", dt, new long[] {rows, cols}, data, 3f, "test");
                MemorySegment out = a.allocate(2L * 3 * cols);
                Bf16.fromWeights(w, 1, 4, out);
                for (int i = 0; i < 3 * cols; i++) {
                    float v = dt.get(data, cols + i);
                    // The scale is left to the caller; fp8 values are exact in bf16, wider types are rounded.
                    assertEquals(DType.floatToBf16(v), out.getAtIndex(I16, i), dt + " element " + i + " = " + v);
                }
            }
        }
    }

    @Test
    void everyF16CodeRoundsLikeTorch() {
        // All 65536 codes (subnormals, ties, the largest values that round up to 2^16, infinities, NaNs), at an odd
        // offset so the vector loop and the scalar tail both run.
        try (Arena a = Arena.ofConfined()) {
            int n = 65536 + 3;
            MemorySegment data = a.allocate(2L * n);
            for (int i = 0; i < n; i++) data.setAtIndex(I16, i, (short) (i - 3));
            Tensor w = new Tensor("w", DType.F16, new long[] {1, n}, data, 1f, "test");
            MemorySegment out = a.allocate(2L * n);
            Bf16.fromWeights(w, 0, 1, out);
            for (int i = 0; i < n; i++) {
                float v = Float.float16ToFloat(data.getAtIndex(I16, i));
                assertEquals(DType.floatToBf16(v), out.getAtIndex(I16, i), "f16 " + Integer.toHexString(data.getAtIndex(I16, i) & 0xffff) + " = " + v);
            }
        }
    }

    @Test
    void everyFp8CodeNarrowsExactly() {
        // All 256 codes of both FP8 formats (subnormals, the largest values, E5M2's infinities, every NaN), each
        // exact in bf16, in a row long enough for the vector loop.
        for (DType dt : new DType[] {DType.F8_E4M3, DType.F8_E5M2}) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment data = a.allocate(2 * 256);
                for (int i = 0; i < 512; i++) data.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + 3));
                Tensor w = new Tensor("w", dt, new long[] {2, 256}, data, 0.5f, "test");
                MemorySegment out = a.allocate(2L * 512);
                Bf16.fromWeights(w, 0, 2, out);
                for (int i = 0; i < 512; i++) {
                    float v = dt.get(data, i);
                    assertEquals(DType.floatToBf16(v), out.getAtIndex(I16, i), dt + " code " + (data.get(ValueLayout.JAVA_BYTE, i) & 0xff) + " = " + v);
                    if (!Float.isNaN(v)) assertEquals(v, DType.bf16ToFloat(out.getAtIndex(I16, i)), dt + " exact");
                }
            }
        }
    }
}
