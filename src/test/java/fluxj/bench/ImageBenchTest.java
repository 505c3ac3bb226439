package fluxj.bench;

import fluxj.cli.Main;
import fluxj.flux.FluxConfig;
import fluxj.tensor.DType;
import fluxj.tools.RandomCheckpoint.ClipShape;
import fluxj.tools.RandomCheckpoint.FluxShape;
import fluxj.tools.RandomCheckpoint.T5Shape;
import fluxj.tools.RandomCheckpoint.VaeShape;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The image bench's plumbing and arithmetic on tiny models (no timings are checked: they are what the bench prints). */
class ImageBenchTest {
    private static final ImageBench.Models TINY = new ImageBench.Models(new T5Shape(64, 2, 2, 32, 128, 100, 32, 0),
            new ClipShape(64, 2, 2, 128, 100, 77), new FluxShape(256, 64, 64, 64, 512, 1, 1, false), new VaeShape(32, List.of(1, 1, 1, 1), 1, 16),
            DType.F8_E4M3, 16);

    @Test
    void everyPhaseOfEverySizeAgainstItsLimit() {
        Peaks.Peak limit = new Peaks.Peak("test", 10, 10, null);
        // The n-th reading of the probe is 100 + n GFLOP/s: rising, so the higher reading beside a phase is the one after it.
        int[] probes = {0};
        Supplier<Peaks.Peak> probe = () -> new Peaks.Peak("test", 100 + probes[0], 100 + probes[0]++, null);
        List<String> log = new ArrayList<>();
        List<ImageBench.Image> images = ImageBench.run(TINY, new int[] {32, 64}, 2, limit, probe, log::add);
        assertEquals(2, images.size());
        assertEquals(8, log.size(), "T5, CLIP, then each step of each size, then the decode of each: " + log);
        // Read before and after each phase; one reading between two steps serves both.
        assertEquals(2 + 2 + 3 + 3 + 2 + 2, probes[0]);
        Map<String, Integer> after = Map.of("T5 encode 16 tokens", 1, "CLIP encode 77 tokens", 3, "32x32 step 1/2", 5, "32x32 step 2/2", 6,
                "64x64 step 1/2", 8, "64x64 step 2/2", 9, "32x32 VAE decode (untiled)", 11, "64x64 VAE decode (untiled)", 13);
        for (ImageBench.Image im : images) {
            String size = im.side() + "x" + im.side();
            List<String> names = im.phases().stream().map(ImageBench.Phase::name).toList();
            assertEquals(List.of("T5 encode 16 tokens", "CLIP encode 77 tokens", size + " step 1/2", size + " step 2/2",
                    size + " VAE decode (untiled)"), names);
            for (ImageBench.Phase p : im.phases()) {
                assertEquals(p.gflop() / (100 + after.get(p.name())), p.pairedLimitSeconds(), 1e-15, p.name() + ": against the reading after it");
                assertEquals(p.pairedLimitSeconds() / p.seconds(), p.pairedFraction(), 1e-12);
            }
            assertEquals(im.seconds() / im.phases().stream().mapToDouble(ImageBench.Phase::pairedLimitSeconds).sum(), im.pairedOverLimit(), 1e-12);
            // The text phases are shared: the same measurement in both sizes' totals.
            assertEquals(images.get(0).phases().get(0), im.phases().get(0));
            for (ImageBench.Phase p : im.phases()) {
                assertTrue(p.seconds() > 0 && p.gflop() > 0, p.toString());
                assertEquals(p.gflop() / 10, p.limitSeconds(), 1e-12, "limit = arithmetic at the peak");
            }
            assertEquals(im.phases().stream().mapToDouble(ImageBench.Phase::seconds).sum() / im.limitSeconds(), im.overLimit(), 1e-12);
            assertEquals(im.phases().stream().mapToDouble(ImageBench.Phase::cpuSeconds).sum() / im.limitSeconds(), im.cpuOverLimit(), 1e-12);
            // Against a peak probed again at twice the rate, every limit halves and the totals follow.
            ImageBench.Image again = im.against(new Peaks.Peak("test", 20, 20, null));
            for (int i = 0; i < im.phases().size(); i++) {
                assertEquals(im.phases().get(i).limitSeconds() / 2, again.phases().get(i).limitSeconds(), 1e-12);
                assertEquals(im.phases().get(i).seconds(), again.phases().get(i).seconds());
                assertEquals(im.phases().get(i).pairedLimitSeconds(), again.phases().get(i).pairedLimitSeconds(), "read beside the phase, it stays");
            }
            assertEquals(2 * im.overLimit(), again.overLimit(), 1e-9);
        }
        // Against another limit the shared text phases stay one phase, so the bench lists them once.
        List<ImageBench.Image> again = images.stream().map(im -> im.against(new Peaks.Peak("test", 20, 20, null))).toList();
        assertEquals(2 + 2 * 3, again.stream().flatMap(im -> im.phases().stream()).distinct().count());
        // T5: per block 2 n (4 d inner + 3 d ff) + 4 n^2 inner, times the blocks.
        double t5 = 2 * (2.0 * 16 * (4 * 64 * 64 + 3 * 64 * 128) + 4.0 * 16 * 16 * 64);
        assertEquals(t5 / 1e9, images.get(0).phases().get(0).gflop(), 1e-15);
        // A step of the 64x64 image (4x4 tokens + 16 text tokens) of a 1+1 block transformer.
        FluxConfig c = new FluxConfig(256, 2, 1, 1, 512, 64, 64, 64, 64, false, true, new int[] {16, 56, 56}, 10000);
        assertEquals(Flops.flux(c, 16, 16).forward(c) / 1e9, images.get(1).phases().get(2).gflop(), 1e-12);
    }

    @Test
    void fluxArithmeticFromTheShapes() {
        // FLUX.1 at 512x512: 1024 image + 256 text tokens; a block's matmuls are 226.5 MFLOP per token (README).
        FluxConfig c = new FluxConfig(3072, 24, 19, 38, 12288, 64, 64, 4096, 768, false, true, new int[] {16, 56, 56}, 10000);
        Flops.Flux f = Flops.flux(c, 1024, 256);
        double perToken = 2.0 * 3072 * (4 * 3072 + 2 * 12288), attention = 4.0 * 1280 * 1280 * 3072;
        assertEquals(226.5e6, perToken, 0.1e6);
        assertEquals(1280 * perToken + attention + 2 * 2 * 3072.0 * 6 * 3072, f.doubleBlock(), 1);
        assertEquals(1280 * perToken + attention + 2 * 3072.0 * 3 * 3072, f.singleBlock(), 1);
        assertEquals(17.6e12, f.forward(c), 0.1e12);
    }

    @Test
    void registeredUnderBench() {
        assertEquals(0, Main.execute("bench", "image", "--help"));
        assertEquals(2, Main.execute("bench", "image", "--sizes", "100"));
    }
}
