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
        // The bench's weights are U(-0.1, 0.1) in every dtype (FP8 stored x1000 with a 1e-3 scale), so all
        // dtypes do the same arithmetic on comparable data.
        for (DType dt : new DType[] {DType.F32, DType.F16, DType.BF16, DType.F8_E4M3, DType.F8_E5M2}) {
            Tensor w = GemmBench.weight(dt, 3, 50, new SplittableRandom(1));
            double max = 0;
            for (int i = 0; i < 150; i++) max = Math.max(max, Math.abs(w.get(i)));
            assertTrue(max > 0.05 && max < 0.11, dt + " max |w| " + max);
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
