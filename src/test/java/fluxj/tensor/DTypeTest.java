package fluxj.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DTypeTest {
    private static float e4m3(int b) { return DType.FP8_E4M3_TABLE[b]; }

    private static float e5m2(int b) { return DType.FP8_E5M2_TABLE[b]; }

    @Test
    void fp8E4M3fnKnownValues() {
        assertEquals(448f, e4m3(0x7e));           // largest finite (no infinities in the fn variant)
        assertEquals(-448f, e4m3(0xfe));
        assertTrue(Float.isNaN(e4m3(0x7f)) && Float.isNaN(e4m3(0xff)));
        assertEquals(1f, e4m3(0x38));             // exponent 7 = bias
        assertEquals(1.125f, e4m3(0x39));
        assertEquals(0x1p-6f, e4m3(0x08));        // smallest normal
        assertEquals(0x1p-9f, e4m3(0x01));        // smallest subnormal
        assertEquals(0.875f * 0x1p-6f, e4m3(0x07));
        assertEquals(240f, e4m3(0x77));
        assertEquals(0f, e4m3(0x00));
        assertEquals(Float.floatToIntBits(-0f), Float.floatToIntBits(e4m3(0x80)));
    }

    @Test
    void fp8E5M2KnownValues() {
        assertEquals(57344f, e5m2(0x7b));         // largest finite
        assertEquals(Float.POSITIVE_INFINITY, e5m2(0x7c));
        assertEquals(Float.NEGATIVE_INFINITY, e5m2(0xfc));
        assertTrue(Float.isNaN(e5m2(0x7d)) && Float.isNaN(e5m2(0x7f)));
        assertEquals(1f, e5m2(0x3c));
        assertEquals(1.25f, e5m2(0x3d));
        assertEquals(0x1p-14f, e5m2(0x04));       // smallest normal
        assertEquals(0x1p-16f, e5m2(0x01));       // smallest subnormal
        assertEquals(-2f, e5m2(0xc0));
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals((short) 0x3f80, DType.floatToBf16(1f));
        assertEquals((short) 0x3f80, DType.floatToBf16(1f + 0x1p-8f));            // tie, down to even
        assertEquals((short) 0x3f82, DType.floatToBf16(1f + 3 * 0x1p-8f));        // tie, up to even
        assertEquals((short) 0x3f81, DType.floatToBf16(1f + 0x1p-8f + 0x1p-20f)); // above the tie
        assertEquals((short) 0xbf80, DType.floatToBf16(-1f));
        assertEquals((short) 0x7f80, DType.floatToBf16(Float.POSITIVE_INFINITY));
        assertEquals((short) 0x7f80, DType.floatToBf16(Float.MAX_VALUE));         // rounds up to infinity
        assertEquals((short) 0x7fc0, DType.floatToBf16(Float.NaN));
        assertEquals(3.140625f, DType.bf16ToFloat(DType.floatToBf16(3.14159f)));
    }

    @Test
    void fp8E4M3EncodeRoundsAndSaturates() {
        assertEquals((byte) 0x38, DType.floatToFp8E4M3(1f));
        assertEquals((byte) 0x7e, DType.floatToFp8E4M3(448f));
        assertEquals((byte) 0x7e, DType.floatToFp8E4M3(1000f));
        assertEquals((byte) 0xfe, DType.floatToFp8E4M3(-1000f));
        assertEquals((byte) 0x38, DType.floatToFp8E4M3(1.0625f));  // tie between 1 and 1.125: even mantissa
        assertEquals((byte) 0x3a, DType.floatToFp8E4M3(1.1875f));  // tie between 1.125 and 1.25: even mantissa
        assertEquals((byte) 0x00, DType.floatToFp8E4M3(0x1p-10f)); // tie between 0 and the smallest subnormal
        assertEquals((byte) 0x80, DType.floatToFp8E4M3(-0f));
        assertEquals((byte) 0x7f, DType.floatToFp8E4M3(Float.NaN));
        for (int b = 0; b < 0x7f; b++) assertEquals((byte) b, DType.floatToFp8E4M3(e4m3(b)), "round trip 0x" + Integer.toHexString(b));
    }

    @Test
    void widensStoredValues() {
        Tensor f16 = Weights.allPatterns(DType.F16);
        assertEquals(1f, f16.get(0x3c00));
        assertEquals(65504f, f16.get(0x7bff));
        assertEquals(0x1p-24f, f16.get(0x0001));
        Tensor bf16 = Weights.allPatterns(DType.BF16);
        assertEquals(1f, bf16.get(0x3f80));
        assertEquals(-2f, bf16.get(0xc000));
    }
}
