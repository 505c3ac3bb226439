package fluxj.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Widens stored weights to f32 (with the per-tensor scale of scaled FP8 applied), a vector at a time.
 *
 * <p>Every conversion is exact bit arithmetic: BF16 is a shift; F16, F8_E5M2 and F8_E4M3 move their exponent
 * and mantissa bits into an f32 and re-bias the exponent, their subnormals are converted from their mantissa (see
 * {@link #rebias}); infinities and NaNs are blended in apart.
 */
public final class Widen {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> SH = ShortVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(L * 16));
    /** Bytes matching the float lanes one for one; none below 64 bits (SSE-only), where FP8 widens element-wise. */
    private static final VectorSpecies<Byte> B = L >= 8 ? ByteVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(L * 8)) : null;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private Widen() {}

    /**
     * Rows [r0, r1) of {@code w} seen as a matrix, widened into {@code out} row-major: exact f32 values of any
     * dtype, block-quantized ones decoded as ggml does (e.g. for merging a LoRA into decoded weights).
     */
    public static void rows(Tensor w, int r0, int r1, float[] out) {
        long cols = w.cols();
        for (int r = r0; r < r1; r++) span(w, r * cols, (int) cols, out, (int) ((r - r0) * cols));
    }

    /** Elements [from, from + n) of {@code w} (flat index), widened and scaled into {@code out[off..]}. */
    public static void span(Tensor w, long from, int n, float[] out, int off) {
        MemorySegment seg = w.data();
        DType dt = w.dtype();
        float s = w.scale();
        if (dt.isBlock()) {
            Blocks.span(dt, seg, from, n, out, off);
            if (s != 1f) for (int i = 0; i < n; i++) out[off + i] *= s;
            return;
        }
        // One loop per dtype, each its own method, so each is compiled (and vectorised) on its own.
        int done = vectorised(dt) ? switch (dt) {
            case F32 -> f32(seg, from, n, s, out, off);
            case BF16 -> bf16(seg, from, n, s, out, off);
            case F16 -> f16(seg, from, n, s, out, off);
            case F8_E4M3 -> e4m3(seg, from, n, s, out, off);
            default -> e5m2(seg, from, n, s, out, off);
        } : 0;
        for (int i = done; i < n; i++) out[off + i] = dt.get(seg, from + i) * s;
    }

    private static int f32(MemorySegment seg, long from, int n, float s, float[] out, int off) {
        int up = n - n % L;
        for (int i = 0; i < up; i += L) vf32(seg, (from + i) * 4).mul(s).intoArray(out, off + i);
        return up;
    }

    private static int bf16(MemorySegment seg, long from, int n, float s, float[] out, int off) {
        int up = n - n % L;
        for (int i = 0; i < up; i += L) vbf16(seg, (from + i) * 2).mul(s).intoArray(out, off + i);
        return up;
    }

    private static int f16(MemorySegment seg, long from, int n, float s, float[] out, int off) {
        int up = n - n % L;
        for (int i = 0; i < up; i += L) vf16(seg, (from + i) * 2).mul(s).intoArray(out, off + i);
        return up;
    }

    private static int e4m3(MemorySegment seg, long from, int n, float s, float[] out, int off) {
        int up = n - n % L;
        for (int i = 0; i < up; i += L) ve4m3(seg, from + i).mul(s).intoArray(out, off + i);
        return up;
    }

    private static int e5m2(MemorySegment seg, long from, int n, float s, float[] out, int off) {
        int up = n - n % L;
        for (int i = 0; i < up; i += L) ve5m2(seg, from + i).mul(s).intoArray(out, off + i);
        return up;
    }

    /** Whether {@link #tile} handles {@code dt} on this machine. */
    static boolean vectorised(DType dt) {
        return switch (dt) {
            case F32, BF16, F16 -> true;
            case F8_E4M3, F8_E5M2 -> B != null;
            default -> false;
        };
    }

    /**
     * An [rows][L] tile: L elements from each of {@code rows} rows {@code stride} elements apart, starting at
     * element {@code from}, widened and scaled into {@code out} row-major. See {@link #vectorised}.
     */
    static void tile(DType dt, MemorySegment seg, long from, long stride, int rows, float s, float[] out) {
        switch (dt) {
            case F32 -> tileF32(seg, from, stride, rows, s, out);
            case BF16 -> tileBf16(seg, from, stride, rows, s, out);
            case F16 -> tileF16(seg, from, stride, rows, s, out);
            case F8_E4M3 -> tileE4m3(seg, from, stride, rows, s, out);
            case F8_E5M2 -> tileE5m2(seg, from, stride, rows, s, out);
            default -> throw new IllegalArgumentException("no vector widening for " + dt);
        }
    }

    private static void tileF32(MemorySegment seg, long from, long stride, int rows, float s, float[] out) {
        for (int r = 0; r < rows; r++) vf32(seg, (from + r * stride) * 4).mul(s).intoArray(out, r * L);
    }

    private static void tileBf16(MemorySegment seg, long from, long stride, int rows, float s, float[] out) {
        for (int r = 0; r < rows; r++) vbf16(seg, (from + r * stride) * 2).mul(s).intoArray(out, r * L);
    }

    private static void tileF16(MemorySegment seg, long from, long stride, int rows, float s, float[] out) {
        for (int r = 0; r < rows; r++) vf16(seg, (from + r * stride) * 2).mul(s).intoArray(out, r * L);
    }

    private static void tileE4m3(MemorySegment seg, long from, long stride, int rows, float s, float[] out) {
        for (int r = 0; r < rows; r++) ve4m3(seg, from + r * stride).mul(s).intoArray(out, r * L);
    }

    private static void tileE5m2(MemorySegment seg, long from, long stride, int rows, float s, float[] out) {
        for (int r = 0; r < rows; r++) ve5m2(seg, from + r * stride).mul(s).intoArray(out, r * L);
    }

    static FloatVector vf32(MemorySegment seg, long byteOff) {
        return FloatVector.fromMemorySegment(F, seg, byteOff, LE);
    }

    static FloatVector vbf16(MemorySegment seg, long byteOff) {
        IntVector i = (IntVector) ShortVector.fromMemorySegment(SH, seg, byteOff, LE).convertShape(VectorOperators.S2I, I, 0);
        return i.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    static FloatVector vf16(MemorySegment seg, long byteOff) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(SH, seg, byteOff, LE).convertShape(VectorOperators.S2I, I, 0);
        IntVector mag = h.and(0x7fff);
        return rebias(h.and(0x8000).lanewise(VectorOperators.LSHL, 16), mag, 10, 15, mag.compare(VectorOperators.GE, 0x7c00));
    }

    static FloatVector ve5m2(MemorySegment seg, long byteOff) {
        IntVector b = (IntVector) ByteVector.fromMemorySegment(B, seg, byteOff, LE).convertShape(VectorOperators.B2I, I, 0);
        IntVector mag = b.and(0x7f);
        return rebias(b.and(0x80).lanewise(VectorOperators.LSHL, 24), mag, 2, 15, mag.compare(VectorOperators.GE, 0x7c));
    }

    /** float8_e4m3fn has no infinities: exponent and mantissa all ones (0x7f) is its only NaN. */
    static FloatVector ve4m3(MemorySegment seg, long byteOff) {
        IntVector b = (IntVector) ByteVector.fromMemorySegment(B, seg, byteOff, LE).convertShape(VectorOperators.B2I, I, 0);
        IntVector mag = b.and(0x7f);
        return rebias(b.and(0x80).lanewise(VectorOperators.LSHL, 24), mag, 3, 7, mag.compare(VectorOperators.EQ, 0x7f));
    }

    /**
     * sign | the f32 of a narrow float's magnitude bits {@code mag} (exponent above {@code mantissa} bits, exponent
     * bias {@code bias}). Normal values move their bits up and add the difference of the biases to the exponent;
     * subnormal ones (exponent 0) are their mantissa times 2^(1 - bias - mantissa), an int-to-float conversion and
     * a multiply by a power of two, both exact. No arithmetic ever sees an f32 subnormal: multiplying one stalls
     * x86 cores for ~100 cycles (a microcode assist), and FP8 weights are often subnormal. Lanes in
     * {@code special} (inf/NaN of the narrow type) get the all-ones f32 exponent.
     */
    private static FloatVector rebias(IntVector sign, IntVector mag, int mantissa, int bias, VectorMask<Integer> special) {
        int shift = 23 - mantissa;
        IntVector normal = mag.lanewise(VectorOperators.LSHL, shift).add((127 - bias) << 23);
        IntVector subnormal = ((FloatVector) mag.convert(VectorOperators.I2F, 0)).mul(Math.scalb(1f, 1 - bias - mantissa)).reinterpretAsInts();
        IntVector bits = normal.blend(subnormal, mag.compare(VectorOperators.LT, 1 << mantissa))
                .blend(mag.lanewise(VectorOperators.LSHL, shift).or(0x7f800000), special);
        return bits.or(sign).reinterpretAsFloats();
    }
}
