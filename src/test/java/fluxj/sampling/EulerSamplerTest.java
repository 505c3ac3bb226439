package fluxj.sampling;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class EulerSamplerTest {

    @Test
    void integratesConstantVelocityExactly() {
        float[] x = {1f, 2f};
        EulerSampler.sample(x, new float[]{1f, 0.5f, 0f}, (z, t) -> new float[]{2f, -4f}, null, null, null);
        assertArrayEquals(new float[]{1f - 2f, 2f + 4f}, x, 0f);
    }

    @Test
    void stoppedAfterAStepReturnsTheCleanEstimateOfThatStep() {
        // v depends on x, so the estimate must use the last step's velocity at the last step's start:
        // x1 = 1 + (0.5 - 1) * v(1) = 1 - 0.5 * 3 = -0.5 at t = 0.5; the estimate x1 - 0.5 * v(1) = 1 - 1 * v(1) = -2
        // (all values exact in binary, so exact equality)
        List<Integer> asked = new ArrayList<>();
        float[] x = {1f};
        float[] out = EulerSampler.sample(x, new float[]{1f, 0.5f, 0.25f, 0f}, (z, t) -> new float[]{z[0] + 2f}, null, null, null, null,
                asked::add);
        assertEquals(List.of(1), asked);
        assertArrayEquals(new float[]{-2f}, out, 0f);
        assertArrayEquals(new float[]{-0.5f}, x, 0f);
    }

    @Test
    void theEstimateHasTheKnownRegionAppliedAtTimeZeroAndTheLastStepIsNeverAsked() {
        // inpainting's known region: "after" pins element 1 to its value at tNext; at t = 0 that is the init value 7
        EulerSampler.AfterStep after = (z, tNext) -> z[1] = 7f + tNext;
        float[] d = EulerSampler.denoised(new float[]{1f, 99f}, new float[]{2f, 5f}, 0.25f, after);
        assertArrayEquals(new float[]{0.5f, 7f}, d, 0f);
        List<Integer> asked = new ArrayList<>();
        float[] x = {1f};
        EulerSampler.sample(x, new float[]{1f, 0.5f, 0f}, (z, t) -> new float[]{2f}, null, null, null, null, step -> !asked.add(step));
        assertEquals(List.of(1), asked);
        assertArrayEquals(new float[]{-1f}, x, 0f);
    }

    @Test
    void guidanceIntervalSkipsNegativePassesOutsideIt() {
        float[] ts = {1f, 0.75f, 0.5f, 0.25f, 0f};
        List<Float> negTimes = new ArrayList<>();
        List<Boolean> guided = new ArrayList<>();
        Velocity pos = (x, t) -> new float[]{1f};
        Velocity neg = (x, t) -> {
            negTimes.add(t);
            return new float[]{0f};
        };
        // (0.3, 0.75]: t = 0.75 and 0.5 are guided; t = 1 (above HI) and 0.25 (not above LO) are not.
        EulerSampler.sample(new float[]{0f}, ts, pos, neg, new TrueCfg(3.0, 0.3, 0.75), (i, n, lat, v, t, g) -> guided.add(g));
        assertEquals(List.of(0.75f, 0.5f), negTimes);
        assertEquals(List.of(false, true, true, false), guided);
    }

    @Test
    void guidedVelocityIsNegPlusScaleTimesDifference() {
        float[] v = EulerSampler.guide(new float[]{0.3f}, new float[]{0.1f}, 4.5f);
        assertEquals(0.1f + 4.5f * (0.3f - 0.1f), v[0], 0f);
    }

    @Test
    void badIntervalIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> new TrueCfg(2, 0.8, 0.2));
        assertThrows(IllegalArgumentException.class, () -> new TrueCfg(2, -0.1, 0.5));
    }
}
