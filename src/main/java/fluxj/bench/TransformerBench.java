package fluxj.bench;

import fluxj.flux.FluxConfig;
import fluxj.flux.FluxTransformer;
import fluxj.io.Checkpoint;
import fluxj.io.Json;
import fluxj.tensor.DType;
import fluxj.tensor.onednn.OneDnnTime;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code fluxj bench transformer}: the fastest of {@code --reps} forwards of a full-width FLUX.1 transformer (random
 * BF16 weights, 1 double + 1 single block) per image size, after one warm-up forward: seconds per block, the
 * projected 19 + 38 block forward, and the achieved
 * GFLOP/s (matmuls + attention) as a fraction of the GEMM benchmark's best rate ({@link GemmBench#reference()})
 * measured in the same run.
 * The fraction is given on wall time and on the process's CPU time; the latter stays meaningful when other
 * processes share the cores.
 */
@Command(name = "transformer", mixinStandardHelpOptions = true,
        description = "FLUX.1 transformer forward throughput (full width, random BF16 weights) against the plain GEMM rate.")
public final class TransformerBench implements Callable<Integer> {
    static final int HIDDEN = 3072, HEADS = 24, MLP = 12288, CONTEXT = 4096, VEC = 768, CHANNELS = 64;
    static final int FULL_DOUBLE = 19, FULL_SINGLE = 38, TXT = 256;

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    @Option(names = "--sizes", split = ",", defaultValue = "512,1024", description = "Square image sizes in pixels (default: ${DEFAULT-VALUE}).")
    int[] sizes;

    @Option(names = "--reps", defaultValue = "3", description = "Timed forwards per size, the fastest kept (default: ${DEFAULT-VALUE}).")
    int reps;

    /** Wall and process CPU nanoseconds of one measured interval. */
    private record Span(long wall, long cpu) {
        static Span measure(Runnable r) {
            long w0 = System.nanoTime(), c0 = cpuNanos();
            r.run();
            return new Span(System.nanoTime() - w0, cpuNanos() - c0);
        }
    }

    @Override
    public Integer call() {
        for (int side : sizes) {
            if (side < 16 || side % 16 != 0) throw new IllegalArgumentException("--sizes: " + side + " is not a positive multiple of 16");
        }
        if (reps < 1) throw new IllegalArgumentException("--reps must be at least 1, not " + reps);
        FluxConfig c = new FluxConfig(HIDDEN, HEADS, 1, 1, MLP, CHANNELS, CHANNELS, CONTEXT, VEC, false, true,
                new int[] {16, 56, 56}, 10000);
        Map<String, Object> out = new LinkedHashMap<>();
        try (Arena arena = Arena.ofShared()) {
            Peaks peaks = Peaks.get();
            if (!json) peaks.describe().forEach(System.out::println);
            GemmBench.Rate gemm = GemmBench.reference();
            double gemmWall = gemm.gflops(), gemmCpu = gemm.gflopPerCpuSecond();
            out.put("gemm_gflops", round(gemmWall));
            out.put("gemm_gflops_per_cpu_second", round(gemmCpu));
            if (!json) {
                System.out.printf("GEMM reference (F32 M=1024 K=3072 N=3072, GemmBench): %.1f GFLOP/s wall, %.1f GFLOP per CPU-second%n", gemmWall, gemmCpu);
            }
            Checkpoint ck = RandomFlux.build(c, DType.BF16, 7, arena);
            FluxTransformer t = FluxTransformer.load(ck, null);
            List<Object> runs = new ArrayList<>();
            for (int side : sizes) runs.add(run(t, side, gemmWall, gemmCpu));
            out.put("sizes", runs);
            out.put("peaks", Peaks.get().toMap());
        }
        if (json) System.out.println(Json.write(out));
        return 0;
    }

    private Map<String, Object> run(FluxTransformer t, int side, double gemmWall, double gemmCpu) {
        int grid = side / 16, imgLen = grid * grid;
        float[] ids = new float[imgLen * 3];
        for (int i = 0; i < imgLen; i++) {
            ids[3 * i + 1] = i / grid;
            ids[3 * i + 2] = i % grid;
        }
        float[] img = noise(imgLen * CHANNELS, 1), txt = noise(TXT * CONTEXT, 2), vec = noise(VEC, 3);
        // A first forward warms up: it JIT-compiles the kernels (the first attention alone runs ~10x slower) and
        // builds oneDNN's primitives for these shapes. A real step is one of many, so the ones after it are timed:
        // on a machine whose speed drifts, the fastest is kept (as the probe keeps its highest reading), and each is
        // paired with the higher of the probes right before and after it, whose median ratio the drift moves least.
        t.forwardTimed(img, imgLen, ids, txt, TXT, new float[TXT * 3], 0.5f, vec, 0f);
        Flops.Flux f = Flops.flux(t.config(), imgLen, TXT);
        double flops = f.doubleBlock() + f.singleBlock() + f.rest();
        CpuLoad.Mark mark = CpuLoad.mark();
        Span total = null;
        FluxTransformer.Timed fastest = null;
        OneDnnTime.Span library = null;
        double[] paired = new double[reps], pairedCpu = new double[reps];
        Peaks.Peak near = Peaks.probeAgain().limit();
        for (int rep = 0; rep < reps; rep++) {
            FluxTransformer.Timed[] timed = new FluxTransformer.Timed[1];
            OneDnnTime.Span before = OneDnnTime.mark();
            Span s = Span.measure(() -> timed[0] = t.forwardTimed(img, imgLen, ids, txt, TXT, new float[TXT * 3], 0.5f, vec, 0f));
            OneDnnTime.Span inside = OneDnnTime.mark().since(before);
            Peaks.Peak next = Peaks.probeAgain().limit(), higher = Peaks.higher(near, next);
            paired[rep] = Peaks.fraction(flops / s.wall(), higher);
            pairedCpu[rep] = Peaks.fraction(flops / s.cpu() * cores(), higher);
            near = next;
            if (total == null || s.wall() < total.wall()) {
                total = s;
                fastest = timed[0];
                library = inside;
            }
        }
        CpuLoad.Interval load = CpuLoad.since(mark);
        double pairedMedian = GemmBench.median(paired), pairedCpuMedian = GemmBench.median(pairedCpu);
        double dbl = fastest.doubleNanos()[0] / 1e9, sgl = fastest.singleNanos()[0] / 1e9, rest = (fastest.embedNanos() + fastest.finalNanos()) / 1e9;

        // The fastest forward against the highest reading of every probe so far: the limit is the peak of the
        // instruction the kernels just used.
        Peaks again = Peaks.get();
        Peaks.Peak limit = again.limit(), amx = again.amxBeside(limit);
        String reason = again.limitReason();
        double rateWall = flops / total.wall(), rateCpu = flops / total.cpu();
        double full = FULL_DOUBLE * dbl + FULL_SINGLE * sgl + rest;

        Map<String, Object> m = new LinkedHashMap<>();
        m.put("size", side);
        m.put("timed_forwards", reps);
        m.put("img_tokens", imgLen);
        m.put("txt_tokens", TXT);
        m.put("double_block_s", round(dbl));
        m.put("single_block_s", round(sgl));
        m.put("embed_and_final_s", round(rest));
        m.put("projected_full_forward_s", round(full));
        m.put("gflops", round(rateWall));
        m.put("fraction_of_gemm", round(rateWall / gemmWall));
        m.put("gflops_per_cpu_second", round(rateCpu));
        m.put("fraction_of_gemm_cpu", round(rateCpu / gemmCpu));
        m.put("limit", limit.present() ? limit.instruction() : null);
        m.put("limit_reason", reason);
        m.put("fraction_of_limit", round(Peaks.fraction(rateWall, limit)));
        m.put("wall_fraction_of_limit", round(Peaks.wallFraction(rateWall, limit)));
        m.put("cpu_fraction_of_limit", round(Peaks.fraction(rateCpu * cores(), limit)));
        m.put("paired_fraction_of_limit", round(pairedMedian));
        m.put("paired_cpu_fraction_of_limit", round(pairedCpuMedian));
        m.put("projected_full_forward_limit_s", round(full * Peaks.fraction(rateWall, limit)));
        if (amx != null) {
            m.put("fraction_of_amx", round(Peaks.fraction(rateWall, amx)));
            m.put("cpu_fraction_of_amx", round(Peaks.fraction(rateCpu * cores(), amx)));
        }
        if (library.nanos() > 0) {
            m.put("onednn_s", round(library.seconds()));
            m.put("onednn_gflops", round(library.gflops()));
            m.put("onednn_fraction_of_limit", round(Peaks.fraction(library.gflops(), limit)));
            m.put("outside_onednn_s", round(total.wall() / 1e9 - library.seconds()));
        }
        m.put("load", load.toMap());
        if (!json) {
            System.out.printf("%dx%d (%d image + %d text tokens), the fastest of %d forwards: double block %.2f s, single block %.2f s, embed+final %.2f s; "
                            + "19+38 forward %.1f s%n  %.1f GFLOP/s wall = %.2f of the GEMM rate; %.1f GFLOP per CPU-second = %.2f of the GEMM's%n",
                    side, side, imgLen, TXT, reps, dbl, sgl, rest, full, rateWall, rateWall / gemmWall, rateCpu, rateCpu / gemmCpu);
            System.out.printf("  %.3f of the %s peak (%.3f per CPU time, %.3f wall/wall)%s; the 19+38 forward's limit %.1f s; %s%n  the limit: %s%n",
                    Peaks.fraction(rateWall, limit), limit.instruction(), Peaks.fraction(rateCpu * cores(), limit),
                    Peaks.wallFraction(rateWall, limit),
                    amx == null ? "" : String.format("; %.3f of the AMX peak (%.3f per CPU time)", Peaks.fraction(rateWall, amx),
                            Peaks.fraction(rateCpu * cores(), amx)),
                    full * Peaks.fraction(rateWall, limit), load.describe(), reason);
            System.out.printf("  the peak: %.1f GFLOP/s per CPU time, %.1f by wall clock (%s)%n", limit.cpuGflops(), limit.gflops(), again.method());
            System.out.printf("  paired: %.3f of the peak (%.3f per CPU time), the median over the %d forwards of each one's rate against the higher of the probes just before and after it%n",
                    pairedMedian, pairedCpuMedian, reps);
            if (library.nanos() > 0) {
                System.out.printf("  inside oneDNN: %.2f s of the forward's %.2f s (%.0f%%), its primitives at %.1f GFLOP/s = %.3f of the peak; the engine's own work around them %.2f s%n",
                        library.seconds(), total.wall() / 1e9, 100 * library.seconds() / (total.wall() / 1e9), library.gflops(),
                        Peaks.fraction(library.gflops(), limit), total.wall() / 1e9 - library.seconds());
            }
        }
        return m;
    }

    private static int cores() { return Runtime.getRuntime().availableProcessors(); }

    static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static float[] noise(int n, int seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    private static double round(double v) { return Math.round(v * 1000) / 1000.0; }
}
