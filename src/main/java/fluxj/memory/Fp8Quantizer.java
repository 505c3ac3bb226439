package fluxj.memory;

import fluxj.tensor.DType;
import fluxj.tensor.Parallel;
import fluxj.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Converts weight matrices to float8_e4m3fn with one f32 scale per tensor (the ComfyUI "scaled fp8" form:
 * weight = fp8 * scale), so the largest magnitude maps to 448 and small weights keep their relative precision.
 */
public final class Fp8Quantizer {
    static final float E4M3_MAX = 448f;
    private static final int CHUNK = 1 << 20;

    private Fp8Quantizer() {}

    /** The per-tensor scale: amax / 448 (1 for an all-zero tensor). */
    public static float scaleFor(Tensor t) {
        long n = t.numel();
        int chunks = (int) ((n + CHUNK - 1) / CHUNK);
        float[] max = new float[chunks];
        Parallel.forEach(chunks, c -> {
            long from = (long) c * CHUNK, to = Math.min(n, from + CHUNK);
            float m = 0;
            for (long i = from; i < to; i++) m = Math.max(m, Math.abs(t.get(i)));
            max[c] = m;
        });
        float amax = 0;
        for (float m : max) amax = Math.max(amax, m);
        return amax == 0 || !Float.isFinite(amax) ? 1f : amax / E4M3_MAX;
    }

    /** Writes {@code t / scale} as e4m3 bytes into {@code dst} (t.numel() bytes). */
    public static void quantize(Tensor t, float scale, MemorySegment dst) {
        long n = t.numel();
        float inv = 1f / scale;
        int chunks = (int) ((n + CHUNK - 1) / CHUNK);
        Parallel.forEach(chunks, c -> {
            long from = (long) c * CHUNK, to = Math.min(n, from + CHUNK);
            for (long i = from; i < to; i++) dst.set(ValueLayout.JAVA_BYTE, i, DType.floatToFp8E4M3(t.get(i) * inv));
        });
    }
}
