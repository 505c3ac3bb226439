package fluxj.tensor.onednn;

import fluxj.tensor.DType;
import fluxj.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Narrowing to bf16 (round to nearest even, as torch's {@code .to(bfloat16)}) into native buffers for oneDNN. */
final class Bf16 {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = F.withLanes(int.class);
    private static final VectorSpecies<Short> S =
            VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final short[] E4M3 = table(DType.FP8_E4M3_TABLE), E5M2 = table(DType.FP8_E5M2_TABLE);

    private Bf16() {}

    /** x[from, from+n) as bf16 into {@code out} from element {@code outIndex}. */
    static void fromFloats(float[] x, int from, int n, MemorySegment out, long outIndex) {
        int i = 0, up = F.loopBound(n);
        for (; i < up; i += F.length()) {
            round(FloatVector.fromArray(F, x, from + i)).intoMemorySegment(out, (outIndex + i) * 2, ByteOrder.LITTLE_ENDIAN);
        }
        for (; i < n; i++) out.setAtIndex(I16_LE, outIndex + i, DType.floatToBf16(x[from + i]));
    }

    /**
     * Rows [r0, r1) of the weight matrix {@code w} as bf16 into {@code out}, row-major. The per-tensor scale is NOT
     * applied (the caller scales the product): FP8 values are then exact in bf16, F16 and F32 are rounded.
     */
    static void fromWeights(Tensor w, int r0, int r1, MemorySegment out) {
        long k = w.cols(), base = r0 * k, n = (r1 - r0) * k;
        MemorySegment in = w.data();
        switch (w.dtype()) {
            case BF16 -> MemorySegment.copy(in, base * 2, out, 0, n * 2);
            case F32 -> {
                long i = 0, up = n - n % F.length();
                for (; i < up; i += F.length()) {
                    round(FloatVector.fromMemorySegment(F, in, (base + i) * 4, ByteOrder.LITTLE_ENDIAN))
                            .intoMemorySegment(out, i * 2, ByteOrder.LITTLE_ENDIAN);
                }
                for (; i < n; i++) out.setAtIndex(I16_LE, i, DType.floatToBf16(in.getAtIndex(F32_LE, base + i)));
            }
            case F16 -> {
                for (long i = 0; i < n; i++) {
                    out.setAtIndex(I16_LE, i, DType.floatToBf16(Float.float16ToFloat(in.getAtIndex(I16_LE, base + i))));
                }
            }
            case F8_E4M3 -> lookup(in, base, n, E4M3, out);
            case F8_E5M2 -> lookup(in, base, n, E5M2, out);
            default -> {
                DType dt = w.dtype();
                for (long i = 0; i < n; i++) out.setAtIndex(I16_LE, i, DType.floatToBf16(dt.get(in, base + i)));
            }
        }
    }

    /** Round to nearest even on the bit pattern; NaN stays a quiet NaN (the rounding add would carry it to inf). */
    private static ShortVector round(FloatVector v) {
        IntVector b = v.reinterpretAsInts();
        IntVector r = b.add(b.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7fff).lanewise(VectorOperators.LSHR, 16);
        VectorMask<Integer> nan = v.test(VectorOperators.IS_NAN).cast(I);
        return (ShortVector) r.blend(0x7fc0, nan).convertShape(VectorOperators.I2S, S, 0);
    }

    private static void lookup(MemorySegment in, long base, long n, short[] table, MemorySegment out) {
        for (long i = 0; i < n; i++) out.setAtIndex(I16_LE, i, table[in.get(ValueLayout.JAVA_BYTE, base + i) & 0xff]);
    }

    private static short[] table(float[] values) {
        short[] t = new short[values.length];
        for (int i = 0; i < t.length; i++) t[i] = DType.floatToBf16(values[i]);
        return t;
    }
}
