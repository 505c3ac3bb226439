package fluxj.memory;

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
            for (long i = from; i < to; i++) dst.set(ValueLayout.JAVA_BYTE, i, encodeE4M3(t.get(i) * inv));
        });
    }

    /** Round-to-nearest-even f32 -> float8_e4m3fn, saturating at +-448; NaN stays NaN. */
    public static byte encodeE4M3(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 24) & 0x80;
        if (Float.isNaN(f)) return (byte) 0x7f;
        float a = Math.abs(f);
        int code;
        if (a < 0x1p-6f) {
            // Subnormals are multiples of 2^-9; rint rounds half to even, and 8 * 2^-9 is code 0x08 = 2^-6.
            code = (int) Math.rint(a * 512f);
        } else {
            int ab = bits & 0x7fffffff;
            int r = ab + 0x7ffff + ((ab >>> 20) & 1);
            code = (((r >>> 23) - 120) << 3) | ((r >>> 20) & 7);
            if (code > 0x7e) code = 0x7e;
        }
        return (byte) (sign | code);
    }
}
