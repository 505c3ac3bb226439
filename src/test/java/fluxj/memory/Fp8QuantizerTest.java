package fluxj.memory;

import fluxj.tensor.DType;
import fluxj.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class Fp8QuantizerTest {
    /** Brute force: the nearest e4m3 value, ties to the even code, saturating at 448. */
    static byte nearest(float f) {
        float a = Math.min(Math.abs(f), 448f);
        int best = 0;
        for (int c = 1; c <= 0x7e; c++) {
            float dc = Math.abs(DType.FP8_E4M3_TABLE[c] - a), db = Math.abs(DType.FP8_E4M3_TABLE[best] - a);
            if (dc < db || (dc == db && (c & 1) == 0)) best = c;
        }
        return (byte) ((Float.floatToRawIntBits(f) >>> 24 & 0x80) | best);
    }

    @Test
    void bitRoundingEqualsTheNearestTableValue() {
        for (int c = 0; c < 0x7f; c++) {
            float v = DType.FP8_E4M3_TABLE[c];
            assertEquals((byte) c, DType.floatToFp8E4M3(v), "code " + c);
            if (c < 0x7e) {
                float mid = (v + DType.FP8_E4M3_TABLE[c + 1]) / 2;
                assertEquals(nearest(mid), DType.floatToFp8E4M3(mid), "midpoint after code " + c);
            }
        }
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < 100_000; i++) {
            float f = (float) (r.nextGaussian() * Math.pow(2, r.nextInt(-12, 10)));
            assertEquals(nearest(f), DType.floatToFp8E4M3(f), "value " + f);
        }
    }

    @Test
    void scaledTensorRoundTripsWithinFp8Precision() {
        int n = 4096;
        MemorySegment seg = Arena.ofAuto().allocate(n * 4L);
        SplittableRandom r = new SplittableRandom(2);
        for (int i = 0; i < n; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) (r.nextGaussian() * 0.02));
        Tensor t = new Tensor("w", DType.F32, new long[]{64, 64}, seg, "mem");
        float scale = Fp8Quantizer.scaleFor(t);
        MemorySegment q = Arena.ofAuto().allocate(n);
        Fp8Quantizer.quantize(t, scale, q);
        Tensor back = new Tensor("w", DType.F8_E4M3, new long[]{64, 64}, q, scale, "mem");
        for (int i = 0; i < n; i++) {
            float v = t.get(i);
            // e4m3 keeps 3 mantissa bits: relative error <= 2^-4 for normals, absolute <= 2^-10 * scale below.
            assertEquals(v, back.get(i), Math.max(Math.abs(v) / 16, scale / 1024) + 1e-12, "element " + i);
        }
    }
}
