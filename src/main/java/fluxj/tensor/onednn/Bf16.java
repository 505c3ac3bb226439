package fluxj.tensor.onednn;

import fluxj.tensor.ChannelsLast;
import fluxj.tensor.ConvInput;
import fluxj.tensor.DType;
import fluxj.tensor.Parallel;
import fluxj.tensor.Tensor;
import fluxj.tensor.VectorMath;
import fluxj.tensor.Widen;

import jdk.incubator.vector.ByteVector;
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

/**
 * Narrowing to bf16 (round to nearest even, as torch's {@code .to(bfloat16)}) into native buffers for oneDNN.
 * Activations go through {@link #fromFloats}'s vector loop; so do weights, widened exactly to f32 in L1-sized chunks
 * first, except FP8 and F16, which map to bf16 bits in 16-bit lanes (non-BF16 weights are narrowed on every call, so
 * this is hot code).
 */
final class Bf16 {
    /** Weights are widened this many values at a time (a multiple of every GGUF block size). */
    private static final int CHUNK = 4096;
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    // The shorts of one float vector: half its bits.
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    // FP8 and F16 weights go to bf16 in 16-bit lanes (FP8 from a byte vector of half the width).
    private static final VectorSpecies<Short> S16 = ShortVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Byte> B8 = VectorSpecies.of(byte.class, VectorShape.forBitSize(S16.vectorBitSize() / 2));
    /** The bf16 of each FP8 subnormal (exponent field 0), indexed by its mantissa. */
    private static final ShortVector E4M3_SUBNORMALS = subnormals(3, 7), E5M2_SUBNORMALS = subnormals(2, 15);

    private Bf16() {}

    /**
     * x[from, from+n) as bf16 into {@code out} from element {@code outIndex}. Vector API code: the activations of
     * every product pass through here (12 to 20 million values per FLUX block), 5x faster than the scalar loop.
     */
    static void fromFloats(float[] x, int from, int n, MemorySegment out, long outIndex) {
        fromFloats(x, from, n, 1f, out, outIndex);
    }

    /** x[from, from+n) * scale, the product rounded once, to bf16 (softmax normalises its row on the way out). */
    static void fromFloats(float[] x, int from, int n, float scale, MemorySegment out, long outIndex) {
        int i = 0;
        for (int up = F.loopBound(n); i < up; i += F.length()) store(FloatVector.fromArray(F, x, from + i).mul(scale), out, outIndex + i);
        for (; i < n; i++) out.set(I16_LE, (outIndex + i) * 2, DType.floatToBf16(x[from + i] * scale));
    }

    /**
     * The image {@code in} describes, h x w after its upsample, rounded to bf16 into {@code out} channels-last
     * ([h*w, C]), rows across the pool: the GroupNorm map and SiLU applied as each value is narrowed, an upsampled
     * pixel read from its source pixel, so the image is read once and never materialised in f32.
     */
    static void fromInputParallel(ConvInput in, int h, int w, MemorySegment out) {
        if (in.plain()) {
            fromFloatsParallel(in.x(), (long) h * w * in.channels(), out);
            return;
        }
        int c = in.channels(), up = in.upsample2x() ? 1 : 0, sw = w >> up, parts = Math.min(h, Parallel.threads() * 8);
        float[] x = in.x();
        ChannelsLast.Affine f = in.norm();
        boolean silu = in.silu();
        Parallel.forEach(parts, part -> {
            for (int y = h * part / parts, end = h * (part + 1) / parts; y < end; y++) {
                for (int px = 0; px < w; px++) {
                    int from = ((y >> up) * sw + (px >> up)) * c;
                    long to = ((long) y * w + px) * c;
                    if (f == null) fromFloats(x, from, c, out, to);
                    else normalized(x, from, c, f, silu, out, to);
                }
            }
        });
    }

    /** One pixel's c channels x[from..] mapped by f (then SiLU) and rounded to bf16 at element {@code to} of out. */
    private static void normalized(float[] x, int from, int c, ChannelsLast.Affine f, boolean silu, MemorySegment out, long to) {
        float[] mean = f.mean(), a = f.scale(), b = f.shift();
        int i = 0;
        for (int up = F.loopBound(c); i < up; i += F.length()) {
            FloatVector v = FloatVector.fromArray(F, x, from + i).sub(FloatVector.fromArray(F, mean, i))
                    .fma(FloatVector.fromArray(F, a, i), FloatVector.fromArray(F, b, i));
            if (silu) v = v.div(VectorMath.exp(v.neg()).add(1f));
            store(v, out, to + i);
        }
        for (; i < c; i++) {
            float v = (x[from + i] - mean[i]) * a[i] + b[i];
            out.set(I16_LE, (to + i) * 2, DType.floatToBf16(silu ? v / (1f + (float) Math.exp(-v)) : v));
        }
    }

    /** v rounded to bf16 (nearest even, NaN kept quiet) at element {@code index} of out. */
    private static void store(FloatVector v, MemorySegment out, long index) {
        IntVector b = v.reinterpretAsInts();
        IntVector r = b.add(b.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7fff).lanewise(VectorOperators.LSHR, 16);
        r = r.blend(0x7fc0, b.and(0x7fffffff).compare(VectorOperators.GT, 0x7f800000));
        r.convertShape(VectorOperators.I2S, S, 0).intoMemorySegment(out, index * 2, ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Rows [r0, r1) of the weight matrix {@code w} as bf16 into {@code out}, row-major. The per-tensor scale is NOT
     * applied (the caller scales the product): FP8 values are then exact in bf16, F16 and F32 are rounded.
     */
    static void fromWeights(Tensor w, int r0, int r1, MemorySegment out) {
        long base = (long) r0 * w.cols(), n = (long) (r1 - r0) * w.cols();
        switch (w.dtype()) {
            case BF16 -> MemorySegment.copy(w.data(), base * 2, out, 0, n * 2);
            // No infinity in E4M3 (0x80 is no magnitude); 0x7f is its NaN.
            case F8_E4M3 -> fp8(w.data(), base, n, DType.F8_E4M3, E4M3_SUBNORMALS, 0x80, 0x7f, out);
            case F8_E5M2 -> fp8(w.data(), base, n, DType.F8_E5M2, E5M2_SUBNORMALS, 0x7c, 0x7d, out);
            case F16 -> f16(w.data(), base, n, out);
            default -> widened(w, base, n, out);
        }
    }

    /**
     * Elements [base, base + n) of any other dtype widened exactly to f32 (GGUF blocks decoded) a few thousand at a
     * time, L1-resident, then rounded: vector code for every dtype.
     */
    private static void widened(Tensor w, long base, long n, MemorySegment out) {
        Tensor unscaled = w.scale() == 1f ? w : w.withScale(1f);
        float[] f = new float[(int) Math.min(n, CHUNK)];
        for (long c = 0; c < n; c += CHUNK) {
            int len = (int) Math.min(CHUNK, n - c);
            Widen.span(unscaled, base + c, len, f, 0);
            fromFloats(f, 0, len, out, c);
        }
    }

    /**
     * FP8 codes [from, from + n) of seg as bf16 into out (both FP8 formats are exact in bf16): the magnitude's
     * bits moved up and the exponent re-biased, subnormals from a table by mantissa, the code {@code inf} an
     * infinity and codes from {@code nan} up NaN, in 16-bit lanes with no f32 on the way (3x fewer operations than
     * widening to f32 and rounding back; FP8 transformers are narrowed on every product).
     */
    private static void fp8(MemorySegment seg, long from, long n, DType dt, ShortVector subnormals, int inf, int nan, MemorySegment out) {
        int mantissa = dt == DType.F8_E4M3 ? 3 : 2, shift = 7 - mantissa, rebias = 127 - ((1 << (6 - mantissa)) - 1), low = (1 << mantissa) - 1;
        long i = 0;
        for (long up = n - n % S16.length(); i < up; i += S16.length()) {
            ShortVector x = (ShortVector) ByteVector.fromMemorySegment(B8, seg, from + i, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2S, S16, 0);
            ShortVector mag = x.and((short) 0x7f), sign = x.and((short) 0x8000);
            ShortVector v = mag.lanewise(VectorOperators.LSHL, shift).add((short) (rebias << 7))
                    .blend(mag.and((short) low).selectFrom(subnormals), mag.compare(VectorOperators.LE, low))
                    .or(sign)
                    .blend(sign.or((short) 0x7f80), mag.compare(VectorOperators.EQ, inf))
                    .blend((short) 0x7fc0, mag.compare(VectorOperators.GE, nan));
            v.intoMemorySegment(out, i * 2, ByteOrder.LITTLE_ENDIAN);
        }
        for (; i < n; i++) out.set(I16_LE, i * 2, DType.floatToBf16(dt.get(seg, from + i)));
    }

    /**
     * F16 values [from, from + n) of seg rounded to bf16 into out, in 16-bit lanes: a normal value's magnitude
     * rounded to nearest even by 3 bits and its exponent re-biased (a carry into the exponent is the right
     * result), infinities and NaNs blended in. F16 subnormals (rare in weights) are normal in bf16 and need the
     * leading bit found: those lanes are redone one by one through f32.
     */
    private static void f16(MemorySegment seg, long from, long n, MemorySegment out) {
        long i = 0;
        for (long up = n - n % S16.length(); i < up; i += S16.length()) {
            ShortVector h = ShortVector.fromMemorySegment(S16, seg, (from + i) * 2, ByteOrder.LITTLE_ENDIAN);
            ShortVector mag = h.and((short) 0x7fff), sign = h.and((short) 0x8000);
            VectorMask<Short> small = mag.compare(VectorOperators.LT, 0x400);
            ShortVector v = mag.add((short) 3).add(mag.lanewise(VectorOperators.LSHR, 3).and((short) 1))
                    .lanewise(VectorOperators.LSHR, 3).add((short) ((127 - 15) << 7)).or(sign)
                    .blend(sign, small)
                    .blend(sign.or((short) 0x7f80), mag.compare(VectorOperators.EQ, 0x7c00))
                    .blend((short) 0x7fc0, mag.compare(VectorOperators.GT, 0x7c00));
            v.intoMemorySegment(out, i * 2, ByteOrder.LITTLE_ENDIAN);
            VectorMask<Short> subnormal = small.and(mag.compare(VectorOperators.NE, 0));
            if (subnormal.anyTrue()) {
                for (long sub = subnormal.toLong(); sub != 0; sub &= sub - 1) {
                    long at = i + Long.numberOfTrailingZeros(sub);
                    out.set(I16_LE, at * 2, DType.floatToBf16(DType.F16.get(seg, from + at)));
                }
            }
        }
        for (; i < n; i++) out.set(I16_LE, i * 2, DType.floatToBf16(DType.F16.get(seg, from + i)));
    }

    /** A table vector whose lane m is the bf16 of the subnormal FP8 value m * 2^(1 - bias - mantissa bits). */
    private static ShortVector subnormals(int mantissa, int bias) {
        short[] t = new short[S16.length()];
        for (int m = 0; m < 1 << mantissa; m++) t[m] = DType.floatToBf16(Math.scalb((float) m, 1 - bias - mantissa));
        return ShortVector.fromArray(S16, t, 0);
    }

    /** x[0, n) rounded to bf16 into {@code out}, in chunks across the pool. */
    static void fromFloatsParallel(float[] x, long n, MemorySegment out) {
        int chunks = (int) Math.min(Parallel.threads() * 4L, (n + 65535) / 65536);
        Parallel.forEach(chunks, c -> {
            int from = (int) (n * c / chunks), to = (int) (n * (c + 1) / chunks);
            fromFloats(x, from, to - from, out, from);
        });
    }

    /**
     * x [len, heads * headDim] (token-major) rounded to bf16 into {@code out} head-major in blocks of {@code rows}
     * tokens: the block of tokens [t0, t0 + m) is [heads, m, headDim] at element t0 * heads * headDim (with rows = len,
     * plain [heads, len, headDim]). Tokens spread over the pool.
     */
    static void headMajorParallel(float[] x, int len, int rows, int heads, int headDim, MemorySegment out) {
        int parts = Math.min(len, Parallel.threads() * 4), width = heads * headDim;
        Parallel.forEach(parts, part -> {
            for (int t = len * part / parts, end = len * (part + 1) / parts; t < end; t++) {
                int t0 = t / rows * rows, m = Math.min(rows, len - t0);
                for (int h = 0; h < heads; h++) {
                    fromFloats(x, t * width + h * headDim, headDim, out, (long) t0 * width + ((long) h * m + t - t0) * headDim);
                }
            }
        });
    }

    /** Rows [r0, r1) of {@code w} narrowed to bf16 into {@code out} (row r0 first), in chunks across the pool. */
    static void fromWeightsParallel(Tensor w, int r0, int r1, MemorySegment out) {
        int chunks = Math.min(Parallel.threads() * 4, r1 - r0);
        long rowBytes = (long) w.cols() * 2;
        Parallel.forEach(chunks, c -> {
            int a = r0 + (r1 - r0) * c / chunks, b = r0 + (r1 - r0) * (c + 1) / chunks;
            fromWeights(w, a, b, out.asSlice((a - r0) * rowBytes, (b - a) * rowBytes));
        });
    }
}
