package fluxj.sampling;

/**
 * PyTorch's CPU random generator ({@code torch.Generator("cpu").manual_seed(seed)}) and its float32
 * {@code torch.randn}, bit for bit, so a seed gives the same noise (and image) here as in ComfyUI or diffusers.
 *
 * <p>mt19937 is seeded with the low 32 bits of the seed. A float uniform is {@code (u32 & 0xFFFFFF) * 2^-24}; a
 * double uniform takes 53 bits of two outputs (first = high word). randn of 16 or more floats draws all uniforms
 * first, then turns each block of 16 into normals by Box-Muller (lanes 0-7 radius*cos, 8-15 radius*sin, from
 * u1 = 1 - u[j] and u2 = u[j+8]); when the count is not a multiple of 16 the last 16 values are drawn again and
 * transformed. This is the AVX2 kernel x86 machines run (see {@link AvxMathFun}). Fewer than 16 values come from
 * the double-precision Box-Muller, one value per call with the sine half cached for the next call.
 */
public final class TorchGenerator {
    private static final float TWO_PI_F = (float) (2.0 * Math.PI);
    private MersenneTwister engine;
    private double cachedNormal;
    private boolean hasCachedNormal;

    public TorchGenerator(long seed) {
        manualSeed(seed);
    }

    /** Re-seeds as {@code generator.manual_seed(seed)}: the engine restarts and the cached normal is dropped. */
    public void manualSeed(long seed) {
        engine = new MersenneTwister((int) seed);
        hasCachedNormal = false;
    }

    /** The next raw 32-bit output as an unsigned value. */
    public long nextUInt32() {
        return Integer.toUnsignedLong(engine.nextInt());
    }

    private float uniformFloat() {
        return (engine.nextInt() & 0xFFFFFF) * 0x1p-24f;
    }

    private double uniformDouble() {
        long hi = Integer.toUnsignedLong(engine.nextInt()), lo = Integer.toUnsignedLong(engine.nextInt());
        return (((hi << 32) | lo) & ((1L << 53) - 1)) * 0x1p-53;
    }

    /** {@code torch.randn(n, dtype=float32, generator=this)} as a flat array (shape does not matter, only numel). */
    public float[] randn(int n) {
        float[] out = new float[n];
        if (n < 16) {
            for (int i = 0; i < n; i++) out[i] = (float) normalDouble();
            return out;
        }
        for (int i = 0; i < n; i++) out[i] = uniformFloat();
        float[] sc = new float[2];
        for (int i = 0; i + 16 <= n; i += 16) boxMuller16(out, i, sc);
        if (n % 16 != 0) {
            int tail = n - 16;
            for (int i = 0; i < 16; i++) out[tail + i] = uniformFloat();
            boxMuller16(out, tail, sc);
        }
        return out;
    }

    private static void boxMuller16(float[] d, int off, float[] sc) {
        for (int j = 0; j < 8; j++) {
            float u1 = 1f - d[off + j];
            float u2 = d[off + j + 8];
            float radius = (float) Math.sqrt(-2f * AvxMathFun.log(u1)); // sqrt of a float is correctly rounded either way
            AvxMathFun.sincos(TWO_PI_F * u2, sc);
            d[off + j] = radius * sc[1];
            d[off + j + 8] = radius * sc[0];
        }
    }

    /** at::normal_distribution&lt;double&gt;(0, 1): Box-Muller on two 53-bit uniforms, sine half cached. */
    private double normalDouble() {
        if (hasCachedNormal) {
            hasCachedNormal = false;
            return cachedNormal;
        }
        double u1 = uniformDouble(), u2 = uniformDouble();
        double r = Math.sqrt(-2.0 * Math.log1p(-u2));
        double theta = 2.0 * Math.PI * u1;
        cachedNormal = r * Math.sin(theta);
        hasCachedNormal = true;
        return r * Math.cos(theta);
    }
}
