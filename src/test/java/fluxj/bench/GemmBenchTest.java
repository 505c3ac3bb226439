package fluxj.bench;

import fluxj.cli.Main;
import fluxj.tensor.DType;
import fluxj.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GemmBenchTest {
    @Test
    void registeredUnderBench() {
        assertEquals(0, Main.execute("bench", "gemm", "--help"));
    }

    @Test
    void refusesFewerThanOneTimedCallBeforeMeasuringAnything() {
        assertEquals(2, Main.execute("bench", "gemm", "--reps", "0"));
    }

    @Test
    void benchWeightsHoldTheirValuesInEveryDtype() {
        // The bench's weights are N(0, 0.03) in every dtype (150 draws: the largest |w| lies between ~2 and ~4.5
        // sigma), so all dtypes do the same arithmetic on comparable data; e4m3 cast as is, with about 37% of its
        // codes subnormal (below 2^-6), like real unscaled FP8 files.
        for (DType dt : new DType[] {DType.F32, DType.F16, DType.BF16, DType.F8_E4M3, DType.F8_E5M2}) {
            Tensor w = GemmBench.weight(dt, 3, 50, new SplittableRandom(1));
            double max = 0;
            int subnormal = 0;
            for (int i = 0; i < 150; i++) {
                max = Math.max(max, Math.abs(w.get(i)));
                if (Math.abs(w.get(i)) < 0x1p-6) subnormal++;
            }
            assertTrue(max > 0.06 && max < 0.135, dt + " max |w| " + max);
            if (dt == DType.F8_E4M3) assertTrue(subnormal > 30 && subnormal < 90, "e4m3 subnormal codes " + subnormal + " of 150");
        }
        double[] rate = GemmBench.gemmRate(6, 50, GemmBench.weight(DType.BF16, 3, 50, new SplittableRandom(2)),
                GemmBench.activations(300, new SplittableRandom(3)), 1);
        assertTrue(rate[0] > 0 && rate[1] > 0);
    }

    @Test
    void ggufRowsArePairedWithBf16CallsAndTakeTheMedianRatio() {
        SplittableRandom rnd = new SplittableRandom(4);
        GemmBench.Paired p = GemmBench.pairedGemm(6, 64, GemmBench.weight(DType.BF16, 3, 64, rnd), GemmBench.weight(DType.Q8_0, 3, 64, rnd),
                GemmBench.activations(6 * 64, rnd), 3);
        assertEquals(3, p.pairs());
        assertTrue(p.rate()[0] > 0 && p.reference()[0] > 0 && p.ratio() > 0 && p.cpuRatio() > 0);
        assertEquals(2.0, GemmBench.median(new double[] {3, 1, 2}));
        assertEquals(2.5, GemmBench.median(new double[] {4, 1, 3, 2}));
    }
}
