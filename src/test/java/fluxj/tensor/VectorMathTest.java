package fluxj.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VectorMathTest {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private static float[] exp(float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i += F.length()) VectorMath.exp(FloatVector.fromArray(F, x, i)).intoArray(y, i);
        return y;
    }

    private static float[] sums(float[] x) {
        float[] s = new float[x.length / F.length()];
        for (int i = 0; i < s.length; i++) s[i] = VectorMath.sum(FloatVector.fromArray(F, x, i * F.length()));
        return s;
    }

    private static float[] random(int n, double lo, double hi, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return x;
    }

    /** Within 2 ulp of the correctly rounded value (Cephes expf's bound) over the whole normal range. */
    @Test
    void expIsWithinTwoUlp() {
        float[] x = random(F.length() * 4096, -86.9, 88.7, 1);
        float[] y = exp(x);
        for (int i = 0; i < x.length; i++) {
            float want = (float) Math.exp(x[i]);
            assertTrue(Math.abs(y[i] - want) <= 2 * Math.ulp(want), "exp(" + x[i] + ") = " + y[i] + ", want " + want);
        }
    }

    @Test
    void expEdges() {
        float[] x = new float[F.length()];
        float[] in = {0f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, -100f, 100f, 1f, -1f};
        System.arraycopy(in, 0, x, 0, Math.min(in.length, x.length));
        float[] y = exp(x);
        float[] want = {1f, 0f, Float.POSITIVE_INFINITY, Float.NaN, 0f, Float.POSITIVE_INFINITY, (float) Math.E, (float) (1 / Math.E)};
        for (int i = 0; i < Math.min(in.length, x.length); i++) {
            // Exact at 0, 1 and the specials; within an ulp of the correctly rounded e and 1/e.
            if (Float.isFinite(want[i]) && want[i] != 0 && want[i] != 1) assertEquals(want[i], y[i], Math.ulp(want[i]), "exp(" + x[i] + ")");
            else assertEquals(want[i], y[i], "exp(" + x[i] + ")");
        }
    }

    /** The lanes are added pairwise: lane i + lane i + n/2, then again on the first half, down to one. */
    @Test
    void sumIsPairwise() {
        float[] x = random(F.length() * 64, -1e4, 1e4, 2);
        float[] s = sums(x);
        for (int v = 0; v < s.length; v++) {
            float[] t = new float[F.length()];
            System.arraycopy(x, v * F.length(), t, 0, t.length);
            for (int half = t.length / 2; half > 0; half /= 2) for (int i = 0; i < half; i++) t[i] += t[i + half];
            assertEquals(t[0], s[v], "vector " + v);
        }
    }

    /**
     * The point of VectorMath: the bits do not depend on whether the JIT has compiled the code. The first calls
     * run interpreted; thousands of calls later C2 has compiled them (the Vector API then uses intrinsics).
     */
    @Test
    void compiledAndInterpretedAgreeBitForBit() {
        // With reduceLanes(ADD) and lanewise(EXP) in their place, most of these sums and ~1% of the exps differ.
        float[] x = random(F.length() * 256, -20, 20, 3);
        float[] exp0 = exp(x), sum0 = sums(x);
        float[] exp1 = exp0, sum1 = sum0;
        for (int i = 0; i < 30_000; i++) {
            exp1 = exp(x);
            sum1 = sums(x);
        }
        assertArrayEquals(exp0, exp1);
        assertArrayEquals(sum0, sum1);
    }
}
