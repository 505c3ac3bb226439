package fluxj.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

class WidenTest {
    /** The vector conversions are exact: every bit pattern must widen to the same f32 bits as the scalar path. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "BF16", "F8_E4M3", "F8_E5M2"})
    void everyBitPatternMatchesScalar(DType dt) {
        Tensor t = Weights.allPatterns(dt);
        int n = (int) t.numel();
        float[] out = new float[n];
        Widen.span(t, 0, n, out, 0);
        for (int i = 0; i < n; i++) {
            float want = dt.get(t.data(), i);
            assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(out[i]), dt + " pattern 0x" + Integer.toHexString(i));
        }
    }

    @Test
    void scaleAndOffsetsAndTails() {
        Random rnd = new Random(3);
        for (DType dt : new DType[] {DType.F32, DType.F16, DType.BF16, DType.F8_E4M3, DType.F8_E5M2}) {
            Tensor w = Weights.random(dt, 3, 45, 0.37f, rnd);
            float[] out = new float[50];
            Widen.span(w, 7, 41, out, 5);
            for (int i = 0; i < 41; i++) assertEquals(w.get(7 + i), out[5 + i], dt + " element " + (7 + i));
            float[] rows = new float[2 * 45];
            Widen.rows(w, 1, 3, rows);
            for (int i = 0; i < rows.length; i++) assertEquals(w.get(45 + i), rows[i], dt + " row element " + i);
        }
    }
}
