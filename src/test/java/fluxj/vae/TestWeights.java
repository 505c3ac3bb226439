package fluxj.vae;

import fluxj.tensor.DType;
import fluxj.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

/** In-memory tensors for kernel and model tests. */
public final class TestWeights {
    private TestWeights() {}

    /** A tensor of the given dtype holding {@code values} rounded to it (read them back with {@code get}). */
    public static Tensor tensor(String name, DType dtype, float[] values, long... shape) {
        MemorySegment seg = Arena.ofAuto().allocate((long) values.length * dtype.byteSize(), 8);
        for (int i = 0; i < values.length; i++) {
            switch (dtype) {
                case F32 -> seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4L * i, values[i]);
                case F16 -> seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * i, Float.floatToFloat16(values[i]));
                case BF16 -> seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * i, DType.floatToBf16(values[i]));
                case F8_E4M3 -> seg.set(ValueLayout.JAVA_BYTE, i, DType.floatToFp8E4M3(values[i]));
                default -> throw new IllegalArgumentException(dtype.toString());
            }
        }
        return new Tensor(name, dtype, shape, seg, "memory");
    }

    public static float[] uniform(Random r, int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (r.nextFloat() * 2 - 1) * scale;
        return v;
    }
}
