package fluxj.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Lane sums and exp built from IEEE lane operations only (add, mul, fma, exact conversions, shuffles), so they
 * give the same bits whether the JIT has compiled the caller or not. The Vector API's own
 * {@code reduceLanes(ADD)} may sum in another order once compiled, and its {@code EXP} is a different
 * approximation in compiled code (SVML) than in the interpreter ({@link Math#exp}); either made two runs of the
 * same model differ in the last bits.
 */
public final class VectorMath {
    private VectorMath() {}

    private static final float LOG2E = 1.44269504088896341f;
    /** ln 2 split in two (Cody-Waite): n * LN2_HI is exact for the |n| < 2^8 used here. */
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    /** Adding then subtracting 1.5 * 2^23 rounds a float of magnitude below 2^22 to the nearest integer. */
    private static final float ROUND = 12582912f;
    /** Above MAX_ARG exp(x) overflows to infinity; below MIN_ARG (e^x < 2^-125) it is returned as 0. */
    private static final float MAX_ARG = 88.7228391f, MIN_ARG = -86.9f;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** For {@link #sum}: lane i takes lane i + h (mod the length), h = length/2, length/4, ..., 1. */
    private static final VectorShuffle<Float>[] HALVES = halves(F);

    /** The sum of the lanes, always added in the same (pairwise) order. */
    public static float sum(FloatVector v) {
        VectorShuffle<Float>[] shuffles = v.species() == F ? HALVES : halves(v.species());
        for (VectorShuffle<Float> s : shuffles) v = v.add(v.rearrange(s));
        return v.lane(0);
    }

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] halves(VectorSpecies<Float> species) {
        int steps = Integer.numberOfTrailingZeros(species.length());
        VectorShuffle<Float>[] s = new VectorShuffle[steps];
        for (int k = 0; k < steps; k++) s[k] = VectorShuffle.iota(species, species.length() >> (k + 1), 1, true);
        return s;
    }

    /**
     * e^x lane-wise, within 2 ulp of the exact value down to e^-86.9 (2^-125); 0 below that, +inf past the
     * largest float, NaN for NaN.
     */
    public static FloatVector exp(FloatVector x) {
        VectorSpecies<Float> sp = x.species();
        FloatVector c = x.max(MIN_ARG).min(MAX_ARG);
        FloatVector n = c.fma(LOG2E, ROUND).sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(sp, -LN2_HI), c).add(n.mul(-LN2_LO));
        // Cephes expf's polynomial for (e^r - 1 - r) / r^2 on |r| <= ln(2)/2, by Horner with fused steps.
        FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f);
        p = p.fma(r, FloatVector.broadcast(sp, 8.3334519073e-3f));
        p = p.fma(r, FloatVector.broadcast(sp, 4.1665795894e-2f));
        p = p.fma(r, FloatVector.broadcast(sp, 1.6666665459e-1f));
        p = p.fma(r, FloatVector.broadcast(sp, 5.0000001201e-1f));
        FloatVector e = p.fma(r.mul(r), r).add(1f);
        // 2^n as 2 * 2^(n-1): n reaches 128 at the top of the range, where 2^n itself is no float.
        FloatVector scale = n.convert(VectorOperators.F2I, 0).reinterpretAsInts()
                .add(126).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        e = e.mul(scale).mul(2f);
        e = e.blend(0f, x.compare(VectorOperators.LT, MIN_ARG));
        return e.blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, MAX_ARG));
    }
}
