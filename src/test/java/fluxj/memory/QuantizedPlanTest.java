package fluxj.memory;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The planner's view of GGUF weights: quantized files counted as stored, Q8_0 conversion as 34 bytes per 32 weights. */
class QuantizedPlanTest {
    static Component transformer(String dtype, long fileBytes, long matrixParams) {
        return new Component("transformer", Phase.DENOISE, fileBytes, dtype, matrixParams, 1L << 30, fileBytes / 60, 57, fileBytes - (1L << 20), true);
    }

    @Test
    void q8_0ConversionShrinksBf16MatricesTo34BytesPer32() {
        long params = 11_900_000_000L, file = 2 * params + (64L << 20);
        Component c = transformer("BF16", file, params);
        assertTrue(c.shrinks(WeightDtype.Q8_0));
        assertEquals(file - 2 * params + params / 32 * 34, c.weightBytes(WeightDtype.Q8_0));
        assertEquals("Q8_0", c.residentDtype(WeightDtype.Q8_0));
        assertEquals("F8_E4M3", c.residentDtype(WeightDtype.FP8));
        assertEquals(c.blockBytes(WeightDtype.STORED) / 2 / 32 * 34, c.blockBytes(WeightDtype.Q8_0));
    }

    @Test
    void ggufFilesAreKeptAsTheyAre() {
        Component q4 = transformer("Q4_K", 6_800_000_000L, 11_900_000_000L);
        for (WeightDtype d : WeightDtype.values()) {
            assertFalse(q4.shrinks(d), d.name());
            assertEquals(6_800_000_000L, q4.weightBytes(d));
            assertEquals("Q4_K", q4.residentDtype(d));
        }
        assertEquals(WeightDtype.Q8_0, WeightDtype.parse("Q8_0"));
        assertThrows(IllegalArgumentException.class, () -> WeightDtype.parse("q4_k"));
    }
}
