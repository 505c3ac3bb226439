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
    @Test
    void encodingIsRoundToNearestEvenWithSaturation() {
        // Every e4m3 value encodes to itself; midpoints between neighbours go to the even code.
        for (int c = 0; c < 0x7f; c++) {
            float v = DType.FP8_E4M3_TABLE[c];
            assertEquals((byte) c, Fp8Quantizer.encodeE4M3(v), "code " + c);
            assertEquals((byte) (c | 0x80), Fp8Quantizer.encodeE4M3(-v == 0 ? -0f : -v), "code -" + c);
            if (c < 0x7e) {
                float mid = (v + DType.FP8_E4M3_TABLE[c + 1]) / 2;
                int even = (c & 1) == 0 ? c : c + 1;
                assertEquals((byte) even, Fp8Quantizer.encodeE4M3(mid), "midpoint after code " + c);
            }
        }
        assertEquals((byte) 0x7e, Fp8Quantizer.encodeE4M3(1e6f));
        assertEquals((byte) 0xfe, Fp8Quantizer.encodeE4M3(-500f));
        assertEquals((byte) 0x7f, Fp8Quantizer.encodeE4M3(Float.NaN));
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < 200_000; i++) {
            float f = (float) (r.nextGaussian() * Math.pow(2, r.nextInt(-12, 10)));
            assertEquals(DType.floatToFp8E4M3(f), Fp8Quantizer.encodeE4M3(f), "value " + f);
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
