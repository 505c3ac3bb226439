package fluxj.tensor.onednn;

import fluxj.tensor.ChannelsLast;
import fluxj.tensor.ConvInput;
import fluxj.tensor.Parallel;
import fluxj.tensor.Tensor;
import fluxj.tensor.Widen;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Staging of images and weights in f32 for oneDNN's f32 convolution ({@link OneDnnConv#f32()}): copies, no rounding. */
final class F32 {
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private F32() {}

    /**
     * The image {@code in} describes, h x w after its upsample, into {@code out} channels-last ([h*w, C]) in f32,
     * source rows across the pool: each source row mapped once (GroupNorm and SiLU) into a row buffer, then copied
     * to its one or two (upsampled) output rows, an upsampled pixel's channels twice.
     */
    static void fromInputParallel(ConvInput in, int h, int w, MemorySegment out) {
        int c = in.channels(), up = in.upsample2x() ? 1 : 0, sh = h >> up, sw = w >> up;
        float[] x = in.x();
        ChannelsLast.Affine f = in.norm();
        int parts = Math.min(sh, Parallel.threads() * 8);
        Parallel.forEach(parts, part -> {
            float[] row = f == null ? null : new float[sw * c];
            for (int sy = sh * part / parts, end = sh * (part + 1) / parts; sy < end; sy++) {
                float[] src = x;
                int base = sy * sw * c;
                if (f != null) {
                    ChannelsLast.normalize(x, sy * sw, sw, f, in.silu(), row, 0);
                    src = row;
                    base = 0;
                }
                for (int dy = 0; dy <= up; dy++) {
                    long y = ((long) sy << up) + dy;
                    if (up == 0) {
                        MemorySegment.copy(src, base, out, F32_LE, 4L * y * w * c, sw * c);
                        continue;
                    }
                    for (int px = 0; px < w; px++) MemorySegment.copy(src, base + (px >> 1) * c, out, F32_LE, 4L * (y * w + px) * c, c);
                }
            }
        });
    }

    /** A weight seen as [rows, cols], widened exactly to f32 (its scale applied) into {@code out} row-major, rows across the pool. */
    static void fromWeights(Tensor weight, MemorySegment out) {
        int rows = weight.rows(), cols = weight.cols(), parts = Math.min(rows, Parallel.threads() * 4);
        Parallel.forEach(parts, part -> {
            float[] buf = new float[cols];
            for (int r = rows * part / parts, end = rows * (part + 1) / parts; r < end; r++) {
                Widen.rows(weight, r, r + 1, buf);
                MemorySegment.copy(buf, 0, out, F32_LE, 4L * r * cols, cols);
            }
        });
    }
}
