package fluxj.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

/** Test weights: random matrices stored in memory in any float dtype, as a mapped checkpoint would hold them. */
final class Weights {
    private Weights() {}

    /** A [rows, cols] tensor of values ~ U(-1, 1) rounded to {@code dt} (finite values only). */
    static Tensor random(DType dt, int rows, int cols, float scale, Random rnd) {
        long n = (long) rows * cols;
        MemorySegment seg = Arena.ofAuto().allocate(n * dt.byteSize() + 1, 64).asSlice(1, n * dt.byteSize());
        for (long i = 0; i < n; i++) {
            float v = rnd.nextFloat() * 2 - 1;
            switch (dt) {
                case F32 -> seg.set(DType.F32_LE, i * 4, v);
                case BF16 -> seg.set(DType.I16_LE, i * 2, DType.floatToBf16(v));
                case F16 -> seg.set(DType.I16_LE, i * 2, Float.floatToFloat16(v));
                case F8_E4M3 -> seg.set(ValueLayout.JAVA_BYTE, i, DType.floatToFp8E4M3(v * 8));
                case F8_E5M2 -> seg.set(ValueLayout.JAVA_BYTE, i, (byte) (Float.floatToFloat16(v * 8) >> 8));
                default -> throw new IllegalArgumentException(dt.toString());
            }
        }
        return new Tensor("w", dt, new long[] {rows, cols}, seg, scale, "memory");
    }

    /** A tensor holding every bit pattern of a 1- or 2-byte dtype, in order. */
    static Tensor allPatterns(DType dt) {
        int n = 1 << (8 * dt.byteSize());
        MemorySegment seg = Arena.ofAuto().allocate((long) n * dt.byteSize());
        for (int i = 0; i < n; i++) {
            if (dt.byteSize() == 1) seg.set(ValueLayout.JAVA_BYTE, i, (byte) i);
            else seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * i, (short) i);
        }
        return new Tensor("all", dt, new long[] {n}, seg, "memory");
    }

    static float[] randomFloats(int n, Random rnd) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = rnd.nextFloat() * 2 - 1;
        return a;
    }
}
