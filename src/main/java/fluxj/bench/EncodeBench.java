package fluxj.bench;

import fluxj.io.Checkpoint;
import fluxj.io.Json;
import fluxj.memory.Planner;
import fluxj.memory.Sizing;
import fluxj.tensor.Conv2d;
import fluxj.tensor.ConvKernel;
import fluxj.tensor.DType;
import fluxj.tensor.Matmul;
import fluxj.tensor.onednn.MatmulBackend;
import fluxj.tensor.onednn.OneDnnConv;
import fluxj.tensor.onednn.OneDnnLibrary;
import fluxj.vae.AutoEncoder;
import fluxj.vae.Tiling;
import fluxj.vae.VaeConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * {@code fluxj bench encode}: FLUX VAE encodes (the encoder of FLUX's autoencoder: ch 128, ch_mult 1,2,4,4, 2
 * ResNet blocks, mid attention over all latent positions; random weights built in memory) of square images, in
 * bands of rows (also streamed: conv1's output not held) and untiled: seconds, GFLOP/s and that rate as a fraction of the GEMM benchmark's best rate
 * measured in the same run ({@link GemmBench#reference()}), the process's peak memory against the planner's
 * prediction for the encode-images phase. Bands and untiled perform the same arithmetic; streamed computes the
 * large blocks' conv1 twice.
 * When oneDNN loads (and the process runs the Java path) each encode runs again with oneDNN's convolution, in f32 as
 * every encode keeps it (see {@link AutoEncoder#encode}).
 */
@Command(name = "encode", mixinStandardHelpOptions = true,
        description = "FLUX VAE encoder speed (GFLOP/s, fraction of the GEMM rate) and peak memory against the plan: streamed, in bands, untiled.")
public final class EncodeBench implements Runnable {
    /** Side of the warm-up encode (a sixteenth of the 1024 encode's convolutions). */
    private static final int WARMUP = 256;

    @Option(names = "--json", description = "Print one JSON document instead of a table.")
    boolean json;

    @Option(names = "--dtype", description = "Weight dtype: BF16 (default) or F32.")
    String dtype = "BF16";

    @Option(names = "--sizes", split = ",", description = "Image sides to encode (default 1024).")
    int[] sizes = {1024};

    @Option(names = "--tile", description = "Band height in rows at every level for the banded runs (default ${DEFAULT-VALUE}).")
    int tile = Tiling.DEFAULT_TILE;

    @Option(names = "--modes", split = ",", description = "Which encodes, in this order: streamed, bands, untiled (default all three;"
            + " one per process gives each its own peak memory: the JVM keeps heap it has grown).")
    List<String> modes = List.of("streamed", "bands", "untiled");

    @Option(names = "--cold", description = "Skip the untimed warm-up encode (the first timed one then includes JIT compilation).")
    boolean cold;

    @Override
    public void run() {
        DType dt = switch (dtype.toUpperCase()) {
            case "BF16" -> DType.BF16;
            case "F32" -> DType.F32;
            default -> throw new IllegalArgumentException("--dtype must be BF16 or F32, not " + dtype);
        };
        for (int side : sizes) {
            if (side < 8 || side % 8 != 0) throw new IllegalArgumentException("--sizes: " + side + " is not a positive multiple of 8");
        }
        if (tile < 1) throw new IllegalArgumentException("--tile must be positive, not " + tile);
        f32Reference(GemmBench::reference);
        List<Map<String, Object>> rows = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        boolean oneDnn = MatmulBackend.current() == MatmulBackend.JAVA && OneDnnLibrary.found() instanceof OneDnnLibrary.Loaded
                && OneDnnConv.available();
        long weightBytes;
        try (Arena arena = Arena.ofShared()) {
            VaeConfig shape = new VaeConfig(3, 3, 128, new int[]{1, 2, 4, 4}, 2, 16, 32, VaeConfig.FLUX_SCALE, VaeConfig.FLUX_SHIFT);
            Checkpoint ck = VaeBench.randomAutoEncoder(shape, dt, arena);
            weightBytes = Sizing.tensorBytes(ck);
            AutoEncoder ae = AutoEncoder.load(ck, null);
            if (!cold) {
                warmUp(ae);
                if (oneDnn) Conv2d.using(Conv2d.oneDnn(), () -> warmUp(ae));
            }
            for (int side : sizes) {
                float[] image = new float[3 * side * side];
                SplittableRandom r = new SplittableRandom(side);
                for (int i = 0; i < image.length; i++) image[i] = (float) (r.nextDouble() * 2 - 1);
                for (String mode : modes) {
                    switch (mode) {
                        // a budget of one byte: the bands too exceed it
                        case "streamed" -> rows.addAll(measure(ae.withTiling(new Tiling(tile, 0, 0, 1)), "streamed " + tile, side, image, weightBytes, oneDnn));
                        case "bands" -> rows.addAll(measure(ae.withTiling(Tiling.always(tile, 0)), "bands of " + tile, side, image, weightBytes, oneDnn));
                        case "untiled" -> {
                            long need = ae.encodeBytes(side, side);
                            if (need > Runtime.getRuntime().maxMemory() * 9 / 10) {
                                skipped.add(side + "x" + side + " untiled: needs about " + (need >> 20) + " MB of activations, the heap holds "
                                        + (Runtime.getRuntime().maxMemory() >> 20) + " MB");
                                continue;
                            }
                            rows.addAll(measure(ae.withTiling(Tiling.off()), "untiled", side, image, weightBytes, oneDnn));
                        }
                        default -> throw new IllegalArgumentException("--modes: " + mode + " is none of streamed, bands, untiled");
                    }
                    f32Reference(GemmBench::remeasure);
                }
            }
        }
        GemmBench.Rate ref = f32Reference(GemmBench::reference);
        for (Map<String, Object> row : rows) {
            row.put("fraction_of_gemm", (double) row.get("gflops") / ref.gflops());
            row.put("cpu_fraction_of_gemm", (double) row.get("gflop_per_cpu_second") / ref.gflopPerCpuSecond());
        }
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("gemm_reference_gflops", ref.gflops());
            doc.put("gemm_reference_gflop_per_cpu_second", ref.gflopPerCpuSecond());
            doc.put("weights", dt.toString());
            doc.put("weight_mb", weightBytes >> 20);
            doc.put("warmed_up", !cold);
            doc.put("encodes", rows);
            doc.put("skipped", skipped);
            System.out.println(Json.write(doc));
            return;
        }
        System.out.printf("GEMM reference (F32 on the f32 product kernel an encode runs, M=1024, 3072x3072, best around the encodes): %.1f GFLOP/s, %.1f GFLOP per CPU-second%n",
                ref.gflops(), ref.gflopPerCpuSecond());
        System.out.println("conv " + (MatmulBackend.current() == MatmulBackend.ONEDNN ? "onednn" : "java") + ": " + Conv2d.kernel().f32().name());
        if (oneDnn) System.out.println("conv onednn: " + Conv2d.oneDnn().f32().name() + "; attention and its products in f32 on the java kernels");
        System.out.println(cold ? "Cold: the first encode includes JIT compilation." : "After untimed " + WARMUP + "x" + WARMUP + " warm-up encodes (JIT).");
        System.out.printf("%-9s %-11s %-6s %8s %6s %8s %8s %8s %9s %8s %9s %9s %8s %8s %12s%n", "size", "mode", "conv", "seconds", "work", "GFLOP/s", "of GEMM",
                "CPU s", "GFLOP/cpu", "of GEMM", "VmHWM MB", "plan MB", "work MB", "vs java", "others CPU-s");
        for (Map<String, Object> row : rows) {
            Object speedup = row.get("speedup_over_java");
            System.out.printf("%-9s %-11s %-6s %8.2f %6.3f %8.1f %8.2f %8.2f %9.1f %8.2f %9d %9d %8d %8s %12s%n", row.get("size"), row.get("mode"),
                    row.get("conv"), row.get("seconds"), row.get("work"), row.get("gflops"), row.get("fraction_of_gemm"), row.get("cpu_seconds"),
                    row.get("gflop_per_cpu_second"), row.get("cpu_fraction_of_gemm"), row.get("vm_hwm_mb"), row.get("planned_peak_mb"),
                    row.get("workspace_mb"), speedup == null ? "" : String.format("%.2fx", (double) speedup),
                    row.get("others_cpu_seconds") == null ? "?" : String.format("%.1f", (double) row.get("others_cpu_seconds")));
        }
        if (oneDnn) System.out.println("oneDNN convolutions: " + String.join(", ", OneDnnConv.implementations()));
        skipped.forEach(m -> System.out.println("skipped " + m));
        System.out.println("GFLOP/s, GFLOP/cpu: the untiled encode's arithmetic per second (image throughput); work: the arithmetic"
                + " the encode performs over that (streamed blocks compute conv1 twice).");
        System.out.println("Per CPU-second rates discount other processes sharing the cores; wall-clock rates do not.");
        System.out.println("VmHWM: peak resident memory of the whole process, reset before each encode. plan: the planner's peak of the"
                + " encode-images phase here (JVM baseline + these " + (weightBytes >> 20) + " MB of random weights, decoder's included,"
                + " + the encoder's weight copies + work); work: its activation and native-buffer estimate of the encode.");
    }

    private static void warmUp(AutoEncoder ae) {
        float[] image = new float[3 * WARMUP * WARMUP];
        ae.withTiling(Tiling.off()).encode(image, WARMUP, WARMUP);
        ae.withTiling(Tiling.always(WARMUP / 64, 0)).encode(image, WARMUP, WARMUP);
        ae.withTiling(new Tiling(WARMUP / 64, 0, 0, 1)).encode(image, WARMUP, WARMUP);
    }

    /**
     * The GEMM reference on the product kernel an encode runs (f32 on every backend: see {@link AutoEncoder#encode}),
     * so the rows compare f32 with f32 under {@code --matmul onednn} too.
     */
    private static GemmBench.Rate f32Reference(Supplier<GemmBench.Rate> measure) {
        return Matmul.computing(Matmul.kernel().f32(), measure);
    }

    /** The encode on the process's backend, then (when {@code oneDnn}) with oneDNN's convolution, and their ratio. */
    private static List<Map<String, Object>> measure(AutoEncoder ae, String mode, int side, float[] image, long weightBytes, boolean oneDnn) {
        Map<String, Object> own = measure(ae, mode, side, image, weightBytes, Conv2d.kernel());
        if (!oneDnn) return List.of(own);
        List<Map<String, Object>> rows = new ArrayList<>(List.of(own));
        Conv2d.using(Conv2d.oneDnn(), () -> rows.add(measure(ae, mode, side, image, weightBytes, Conv2d.kernel())));
        rows.getLast().put("speedup_over_java", (double) own.get("seconds") / (double) rows.getLast().get("seconds"));
        return rows;
    }

    private static Map<String, Object> measure(AutoEncoder ae, String mode, int side, float[] image, long weightBytes, ConvKernel kernel) {
        double flops = ae.encodeFlops(side, side), performed = ae.plannedEncodeFlops(side, side);
        long work = ae.plannedEncodeBytes(side, side) + ae.plannedEncodeNativeBytes(side, side);
        long planned = Planner.JVM_BASELINE + weightBytes + ae.encodeWeightCopyBytes() + work;
        System.gc();
        VaeBench.resetPeaks();
        CpuLoad.Mark mark = CpuLoad.mark();
        long t0 = System.nanoTime(), c0 = VaeBench.cpuNanos();
        float[] z = ae.encode(image, side, side);
        double s = (System.nanoTime() - t0) / 1e9, cpu = (VaeBench.cpuNanos() - c0) / 1e9;
        if (z.length != 16 * (side / 8) * (side / 8)) throw new IllegalStateException("encode returned " + z.length + " values");
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("size", side + "x" + side);
        row.put("mode", mode);
        row.put("conv", kernel instanceof OneDnnConv ? "onednn" : "java");
        row.put("seconds", s);
        row.put("cpu_seconds", cpu);
        CpuLoad.Interval load = CpuLoad.since(mark);
        row.put("others_cpu_seconds", load.known() ? load.othersCpuSeconds() : null);
        row.put("gflop", flops / 1e9);
        row.put("work", performed / flops);
        row.put("gflops", flops / s / 1e9);
        row.put("gflop_per_cpu_second", flops / cpu / 1e9);
        row.put("vm_hwm_mb", VaeBench.vmHwm() >> 20);
        row.put("planned_peak_mb", planned >> 20);
        row.put("workspace_mb", work >> 20);
        return row;
    }
}
