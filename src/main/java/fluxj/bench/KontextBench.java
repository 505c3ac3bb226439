package fluxj.bench;

import fluxj.flux.FluxConfig;
import fluxj.flux.FluxTransformer;
import fluxj.io.Checkpoint;
import fluxj.io.Json;
import fluxj.memory.ByteSize;
import fluxj.memory.Device;
import fluxj.memory.MemoryPlan;
import fluxj.memory.Phase;
import fluxj.memory.Planner;
import fluxj.memory.Sizing;
import fluxj.memory.WeightDtype;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code fluxj bench kontext}: one denoising step of a FLUX.1 Kontext generation (the target's image tokens followed
 * by a reference image's tokens, axis 0 of their ids 1, as BFL's {@code prepare_kontext} lays them out) against a
 * plain step at the same target size, on a transformer checkpoint of full width (e.g. from {@code fluxj dev
 * make-random --kind flux}; fewer blocks keep the run short, and per-block times project the 19 + 38 block step):
 * seconds, GFLOP/s as a fraction of the GEMM reference measured in the same run, and the memory planner's predicted
 * peak of the denoise phase against the process's measured peak (VmHWM, reset before each step).
 */
@Command(name = "kontext", mixinStandardHelpOptions = true,
        description = "A Kontext step (target + reference tokens) against a plain step: time, GEMM fraction, planned vs measured peak memory.")
public final class KontextBench implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "A full-width FLUX.1 transformer file (fluxj dev make-random --kind flux --guidance ...).")
    Path model;

    @Option(names = "--size", defaultValue = "1024", description = "Target side in pixels (default ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--ref", defaultValue = "1024", description = "Reference image side in pixels (default ${DEFAULT-VALUE}).")
    int ref;

    @Option(names = "--txt", defaultValue = "512", description = "Text tokens (default ${DEFAULT-VALUE}, a dev model's T5 length).")
    int txt;

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        for (int side : new int[]{size, ref}) {
            if (side < 16 || side % 16 != 0) throw new IllegalArgumentException("--size/--ref: " + side + " is not a positive multiple of 16");
        }
        if (txt < 1) throw new IllegalArgumentException("--txt must be positive, not " + txt);
        GemmBench.Rate gemm = GemmBench.reference();
        Map<String, Object> out = new LinkedHashMap<>();
        try (Checkpoint ck = Checkpoint.open(model)) {
            FluxTransformer t = FluxTransformer.load(ck, null);
            FluxConfig c = t.config();
            if (c.hidden() != TransformerBench.HIDDEN || c.mlpHidden() != TransformerBench.MLP) {
                throw new IllegalArgumentException(model + " is not full width (hidden " + c.hidden() + ", MLP " + c.mlpHidden()
                        + "; FLUX.1 has " + TransformerBench.HIDDEN + ", " + TransformerBench.MLP + ")");
            }
            int grid = size / 16, n = grid * grid, refGrid = ref / 16, r = refGrid * refGrid;
            // A small forward first: the JIT compiles the kernels and the mapped weights are paged in.
            step(t, ck, 16, 0, 4);
            List<Object> steps = new ArrayList<>();
            Map<String, Object> plain = step(t, ck, n, 0, grid);
            Map<String, Object> kontext = step(t, ck, n, r, grid);
            steps.add(plain);
            steps.add(kontext);
            out.put("model", model.toString());
            out.put("double_blocks", c.depth());
            out.put("single_blocks", c.depthSingle());
            out.put("gemm_gflops", gemm.gflops());
            out.put("steps", steps);
            out.put("kontext_over_plain", (double) kontext.get("projected_step_s") / (double) plain.get("projected_step_s"));
            if (!json) {
                System.out.printf("GEMM reference (F32 M=1024 K=3072 N=3072, GemmBench): %.1f GFLOP/s wall%n", gemm.gflops());
                System.out.printf("%s: %d double + %d single blocks, full width; %d text tokens; times projected to 19 + 38 blocks%n",
                        model.getFileName(), c.depth(), c.depthSingle(), txt);
                for (Object o : steps) {
                    Map<?, ?> m = (Map<?, ?>) o;
                    System.out.printf("%-28s double %.2f s, single %.2f s per block; step %.1f s; %.1f GFLOP/s = %.2f of GEMM;"
                                    + " peak planned %s, measured %s; others %s CPU-s%n", m.get("label"), m.get("double_block_s"), m.get("single_block_s"),
                            m.get("projected_step_s"), m.get("gflops"), (double) m.get("gflops") / gemm.gflops(),
                            ByteSize.format((long) m.get("planned_peak_bytes")), ByteSize.format((long) m.get("measured_peak_bytes")),
                            m.get("others_cpu_seconds") == null ? "?" : String.format("%.1f", (double) m.get("others_cpu_seconds")));
                }
                System.out.printf("Kontext step / plain step: %.2fx%n", (double) out.get("kontext_over_plain"));
                System.out.println("planned: the memory planner's peak of the denoise phase for this checkpoint (JVM baseline + its mapped"
                        + " weights + the activation estimate with the reference tokens); measured: VmHWM of the process, reset before the step.");
            }
        }
        if (json) System.out.println(Json.write(out));
        return 0;
    }

    /** One timed forward over n target tokens (a grid x grid latent) followed by r reference tokens (a square reference). */
    private Map<String, Object> step(FluxTransformer t, Checkpoint ck, int n, int r, int grid) {
        FluxConfig c = t.config();
        int tokens = n + r, refGrid = (int) Math.round(Math.sqrt(r));
        float[] ids = new float[tokens * 3];
        for (int i = 0; i < n; i++) {
            ids[3 * i + 1] = i / grid;
            ids[3 * i + 2] = i % grid;
        }
        for (int i = 0; i < r; i++) {
            ids[3 * (n + i)] = 1;
            ids[3 * (n + i) + 1] = i / refGrid;
            ids[3 * (n + i) + 2] = i % refGrid;
        }
        float[] img = noise(tokens * c.inChannels(), 1), text = noise(txt * c.contextDim(), 2), vec = noise(c.vecDim(), 3);
        long workspace = Sizing.transformerWorkspace(tokens + txt, c.hidden(), c.mlpHidden()) + Sizing.transformerNative(tokens + txt, c.hidden(), c.mlpHidden());
        Device device = Device.Cpu.detect();
        MemoryPlan plan = Planner.plan(device, device.defaultBudget(), List.of(Sizing.component("transformer", Phase.DENOISE, ck, workspace, true, true)),
                WeightDtype.STORED, false);
        t.releaseWorkspace();
        System.gc();
        VaeBench.resetPeaks();
        CpuLoad.Mark mark = CpuLoad.mark();
        long w0 = System.nanoTime(), c0 = VaeBench.cpuNanos();
        FluxTransformer.Timed timed = t.forwardTimed(img, tokens, ids, text, txt, new float[txt * 3], 0.5f, vec, 2.5f);
        double wall = (System.nanoTime() - w0) / 1e9, cpu = (VaeBench.cpuNanos() - c0) / 1e9;
        CpuLoad.Interval load = CpuLoad.since(mark);
        long measured = VaeBench.vmHwm();
        t.releaseWorkspace();
        double dbl = mean(timed.doubleNanos()), sgl = mean(timed.singleNanos()), rest = (timed.embedNanos() + timed.finalNanos()) / 1e9;
        double flops = Flops.flux(c, tokens, txt).forward(c);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("label", r == 0 ? "plain " + grid * 16 + "x" + grid * 16 + " (" + n + " tok)" : "kontext +" + refGrid * 16 + "x" + refGrid * 16 + " (" + n + "+" + r + " tok)");
        m.put("image_tokens", n);
        m.put("reference_tokens", r);
        m.put("seconds", wall);
        m.put("cpu_seconds", cpu);
        m.put("others_cpu_seconds", load.known() ? load.othersCpuSeconds() : null);
        m.put("double_block_s", dbl);
        m.put("single_block_s", sgl);
        m.put("projected_step_s", TransformerBench.FULL_DOUBLE * dbl + TransformerBench.FULL_SINGLE * sgl + rest);
        m.put("gflops", flops / wall / 1e9);
        m.put("planned_peak_bytes", plan.phasePeaks().get(Phase.DENOISE));
        m.put("measured_peak_bytes", measured);
        return m;
    }

    private static double mean(long[] nanos) {
        long sum = 0;
        for (long v : nanos) sum += v;
        return nanos.length == 0 ? 0 : sum / 1e9 / nanos.length;
    }

    private static float[] noise(int n, int seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }
}
