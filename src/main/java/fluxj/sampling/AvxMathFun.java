package fluxj.sampling;

/**
 * The float32 log and sin/cos that PyTorch's AVX2 {@code normal_fill_16_AVX2} uses (Cephes polynomials by way of
 * avx_mathfun.h), evaluated lane by lane with the fused multiply-adds the compiler forms from them
 * ({@code -mfma}, contraction on). They differ from correctly rounded log/sin/cos in the last bit for about one
 * value in a hundred, so matching torch.randn bit for bit needs exactly these.
 */
final class AvxMathFun {
    private AvxMathFun() {}

    private static final float SQRTHF = 0.707106781186547524f;
    private static final float[] LOG_P = {7.0376836292E-2f, -1.1514610310E-1f, 1.1676998740E-1f, -1.2420140846E-1f,
            1.4249322787E-1f, -1.6668057665E-1f, 2.0000714765E-1f, -2.4999993993E-1f, 3.3333331174E-1f};
    private static final float LOG_Q1 = -2.12194440e-4f, LOG_Q2 = 0.693359375f;

    /** Natural log of a positive normal float (the caller passes values in (0, 1]). */
    static float log(float x) {
        int bits = Float.floatToRawIntBits(Math.max(x, Float.MIN_NORMAL));
        float e = (float) ((bits >>> 23) - 0x7f) + 1f;
        float m = Float.intBitsToFloat((bits & ~0x7f800000) | Float.floatToRawIntBits(0.5f)); // mantissa in [0.5, 1)
        boolean small = m < SQRTHF;
        float add = small ? m : 0f;
        m = m - 1f;
        e = e - (small ? 1f : 0f);
        m = m + add;
        float z = m * m;
        float y = LOG_P[0];
        for (int i = 1; i < LOG_P.length; i++) y = Math.fma(y, m, LOG_P[i]);
        y = y * m;
        y = y * z;
        y = Math.fma(e, LOG_Q1, y);
        y = Math.fma(-z, 0.5f, y);
        m = m + y;
        return Math.fma(e, LOG_Q2, m);
    }

    private static final float FOPI = 1.27323954473516f; // 4 / pi
    private static final float DP1 = -0.78515625f, DP2 = -2.4187564849853515625e-4f, DP3 = -3.77489497744594108e-8f;

    /** sin(x) into out[0], cos(x) into out[1]. */
    static void sincos(float x, float[] out) {
        int signSin = Float.floatToRawIntBits(x) & 0x80000000;
        x = Math.abs(x);
        int j = ((int) (x * FOPI) + 1) & ~1; // octant, rounded to even as Cephes does
        float y = j;
        signSin ^= (j & 4) << 29;
        int signCos = (~(j - 2) & 4) << 29;
        boolean sinPoly = (j & 2) == 0;
        x = Math.fma(y, DP1, x); // extended-precision reduction by pi/4
        x = Math.fma(y, DP2, x);
        x = Math.fma(y, DP3, x);
        float z = x * x;
        float c = Math.fma(2.443315711809948E-005f, z, -1.388731625493765E-003f);
        c = Math.fma(c, z, 4.166664568298827E-002f);
        c = c * z;
        c = c * z;
        c = Math.fma(-z, 0.5f, c);
        c = c + 1f;
        float s = Math.fma(-1.9515295891E-4f, z, 8.3321608736E-3f);
        s = Math.fma(s, z, -1.6666654611E-1f);
        s = s * z;
        s = Math.fma(s, x, x);
        float sinv = sinPoly ? s : c, cosv = sinPoly ? c : s;
        out[0] = Float.intBitsToFloat(Float.floatToRawIntBits(sinv) ^ signSin);
        out[1] = Float.intBitsToFloat(Float.floatToRawIntBits(cosv) ^ signCos);
    }
}
