package fluxj.flux;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Rope is a rotation per axis: q.k after rope depends on the position difference only, and norms are kept. */
class RopeTest {
    @Test
    void scoresDependOnRelativePositionOnly() {
        Rope rope = new Rope(new int[] {8, 12, 12}, 10000);
        int d = 32;
        float[] q = FluxTransformerLoadTest.wave(d, 1), k = FluxTransformerLoadTest.wave(d, 2);
        double base = score(rope, q, k, new float[] {0, 3, 5}, new float[] {0, 1, 9});
        double shifted = score(rope, q, k, new float[] {2, 10, 12}, new float[] {2, 8, 16});
        // f32 angles of up to ~16 rad round to ~1e-6 relative; the dot of two 32-vectors of size ~1 keeps that.
        assertEquals(base, shifted, 1e-4);
        double unrotated = 0;
        for (int i = 0; i < d; i++) unrotated += q[i] * k[i];
        assertEquals(unrotated, score(rope, q, k, new float[] {0, 4, 4}, new float[] {0, 4, 4}), 1e-4);
    }

    @Test
    void eachAxisTurnsItsOwnPairs() {
        Rope.Angles a = new Rope(new int[] {8, 12, 12}, 10000).angles(new float[] {0, 0, 3}, 1);
        // Axis 0 owns pairs 0-3, axis 1 pairs 4-9: both at position 0, so not turned; axis 2's first pair turns by 3 rad.
        for (int p = 0; p < 10; p++) assertEquals(1f, a.cos()[p]);
        assertEquals(Math.cos(3), a.cos()[10], 1e-6);
        assertEquals(Math.sin(3 * Math.pow(10000, -2.0 / 12)), a.sin()[11], 1e-6);
    }

    private static double score(Rope rope, float[] q, float[] k, float[] qPos, float[] kPos) {
        float[] qr = q.clone(), kr = k.clone();
        Rope.apply(qr, 1, 1, rope.angles(qPos, 1));
        Rope.apply(kr, 1, 1, rope.angles(kPos, 1));
        double s = 0;
        for (int i = 0; i < q.length; i++) s += qr[i] * kr[i];
        return s;
    }
}
