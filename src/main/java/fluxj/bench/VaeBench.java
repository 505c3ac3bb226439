package fluxj.bench;

import fluxj.io.Checkpoint;
import fluxj.io.Json;
import fluxj.tensor.Conv2d;
import fluxj.tensor.ConvKernel;
import fluxj.tensor.DType;
import fluxj.tensor.Tensor;
import fluxj.tensor.onednn.MatmulBackend;
import fluxj.tensor.onednn.OneDnnConv;
import fluxj.tensor.onednn.OneDnnTime;
import fluxj.tensor.onednn.OneDnnLibrary;
import fluxj.vae.AutoEncoder;
import fluxj.vae.Tiling;
import fluxj.vae.VaeConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * {@code fluxj bench vae}: FLUX VAE decodes (ch 128, ch_mult 1,2,4,4, 2 ResNet blocks, 16 latent channels; random
 * weights built in memory) at 512x512 and 1024x1024, untiled and tiled: seconds, GFLOP/s and that rate as a
 * fraction of the GEMM benchmark's best rate ({@link GemmBench#reference()}) measured in the same run (the convolutions are matrix
 * multiplies, so that is the rate they can reach), peak memory. Two rates per decode: on the untiled decode's FLOPs
 * (nominal: image throughput) and on the FLOPs the decode performs ({@link AutoEncoder#plannedDecodeFlops}: a tiled
 * decode repeats its overlaps), the rate its convolutions run at. When oneDNN loads (and the process runs the Java
 * path) each decode runs again with oneDNN's bf16 convolution ({@link Conv2d#oneDnn()}), with its speed-up. Timed
 * after an untimed small warm-up decode on each backend unless {@code --cold}.
 */
@Command(name = "vae", mixinStandardHelpOptions = true,
        description = "FLUX VAE decode speed (GFLOP/s, fraction of the GEMM rate) and peak memory, untiled and tiled.")
public final class VaeBench implements Runnable {
    /** Latent side of the warm-up decode (a 256x256 image, a sixteenth of the 1024 decode's work). */
    private static final int WARMUP = 32;

    @Option(names = "--json", description = "Print one JSON document instead of a table.")
    boolean json;

    @Option(names = "--dtype", description = "Weight dtype: BF16 (default) or F32.")
    String dtype = "BF16";

    @Option(names = "--sizes", split = ",", description = "Image sides to decode (default 512,1024).")
    int[] sizes = {512, 1024};

    @Option(names = "--tile", description = "Tile side in latent pixels for the tiled runs (default ${DEFAULT-VALUE}).")
    int tile = Tiling.DEFAULT_TILE;

    @Option(names = "--overlap", description = "Tile overlap in latent pixels (default ${DEFAULT-VALUE}).")
    int overlap = Tiling.DEFAULT_OVERLAP;

    @Option(names = "--cold", description = "Skip the untimed warm-up decode: the first timed decode then includes the JIT compiling the decoder's kernels.")
    boolean cold;

    @Override
    public void run() {
        DType dt = switch (dtype.toUpperCase()) {
            case "BF16" -> DType.BF16;
            case "F32" -> DType.F32;
            default -> throw new IllegalArgumentException("--dtype must be BF16 or F32, not " + dtype);
        };
        // The reference is measured again after every decode and its best rates used (see GemmBench.remeasure).
        GemmBench.reference();
        Peaks peaks = Peaks.get();
        if (!json) peaks.describe().forEach(System.out::println);
        List<Map<String, Object>> rows = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        // oneDNN rows beside the process's own when the library loads and the process does not already use it.
        boolean oneDnn = MatmulBackend.current() == MatmulBackend.JAVA && OneDnnLibrary.found() instanceof OneDnnLibrary.Loaded
                && OneDnnConv.available();
        try (Arena arena = Arena.ofShared()) {
            VaeConfig shape = new VaeConfig(3, 3, 128, new int[]{1, 2, 4, 4}, 2, 16, 32, VaeConfig.FLUX_SCALE, VaeConfig.FLUX_SHIFT);
            AutoEncoder ae = AutoEncoder.load(randomDecoder(shape, dt, arena), null);
            // Steady-state rates, as the GEMM reference's: one small decode, untiled and tiled, lets the JIT compile
            // the kernels (a cold process spends seconds of its first decode in interpreted vector code).
            if (!cold) {
                warmUp(ae);
                // oneDNN's too: its weights are packed on first use.
                if (oneDnn) Conv2d.using(Conv2d.oneDnn(), () -> warmUp(ae));
            }
            for (int side : sizes) {
                int h = side / 8, w = side / 8;
                float[] z = new float[16 * h * w];
                SplittableRandom r = new SplittableRandom(side);
                for (int i = 0; i < z.length; i++) z[i] = (float) (r.nextDouble() * 2 - 1);
                double nominal = ae.decodeFlops(h, w);
                // Tiled first: the JVM keeps heap it has grown, so the smaller footprint must be measured first.
                if (h > tile || w > tile) {
                    rows.addAll(measure(ae.withTiling(Tiling.always(tile, overlap)), "tiled " + tile + "/" + overlap, side, z, nominal, oneDnn));
                    GemmBench.remeasure();
                }
                long need = ae.decodeBytes(h, w);
                if (need > Runtime.getRuntime().maxMemory() * 9 / 10) {
                    skipped.add(side + "x" + side + " untiled: needs about " + (need >> 20) + " MB of activations, the heap holds "
                            + (Runtime.getRuntime().maxMemory() >> 20) + " MB");
                    continue;
                }
                rows.addAll(measure(ae.withTiling(Tiling.off()), "untiled", side, z, nominal, oneDnn));
                GemmBench.remeasure();
            }
        }
        GemmBench.Rate ref = GemmBench.reference();
        double[] gemm = {ref.gflops(), ref.gflopPerCpuSecond()};
        for (Map<String, Object> row : rows) {
            row.put("fraction_of_gemm", (double) row.get("gflops") / gemm[0]);
            row.put("cpu_fraction_of_gemm", (double) row.get("gflop_per_cpu_second") / gemm[1]);
            row.put("performed_fraction_of_gemm", (double) row.get("performed_gflops") / gemm[0]);
            row.put("performed_cpu_fraction_of_gemm", (double) row.get("performed_gflop_per_cpu_second") / gemm[1]);
        }
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("gemm_reference_gflops", gemm[0]);
            doc.put("gemm_reference_gflop_per_cpu_second", gemm[1]);
            doc.put("gemm_reference", "F32 weights, M=1024, K=N=3072, best of 3, measured before and again after each decode (GemmBench)");
            doc.put("weights", dt.toString());
            doc.put("peaks", peaks.toMap());
            doc.put("warmed_up", !cold);
            doc.put("decodes", rows);
            doc.put("skipped", skipped);
            System.out.println(Json.write(doc));
        } else {
            System.out.printf("GEMM reference (F32, M=1024, 3072x3072, best around the decodes): %.1f GFLOP/s, %.1f GFLOP per CPU-second%n", gemm[0], gemm[1]);
            System.out.println("conv java: " + Conv2d.kernel().name());
            if (oneDnn) System.out.println("conv onednn: " + Conv2d.oneDnn().name() + "; attention products on the java matmul");
            System.out.println(cold ? "Cold: the first decode includes JIT compilation." : "After an untimed 256x256 warm-up decode (JIT); --cold times the first decode instead.");
            System.out.printf("%-9s %-13s %-6s %8s %8s %8s %8s %9s %8s %8s %6s %9s %8s %9s %8s %8s %8s %12s%n", "size", "mode", "conv", "seconds", "GFLOP/s", "of GEMM",
                    "CPU s", "GFLOP/cpu", "of GEMM", "perf GF", "work", "perf GF/s", "of GEMM", "VmHWM MB", "est. MB", "vs java", "of peak", "wall/wall", "of AMX", "others CPU-s");
            for (Map<String, Object> row : rows) {
                Object speedup = row.get("speedup_over_java");
                System.out.printf("%-9s %-13s %-6s %8.2f %8.1f %8.2f %8.2f %9.1f %8.2f %8.1f %6.3f %9.1f %8.2f %9d %8d %8s %8.3f %9.3f %8s %12s%n", row.get("size"), row.get("mode"),
                        row.get("conv"), row.get("seconds"), row.get("gflops"), row.get("fraction_of_gemm"), row.get("cpu_seconds"),
                        row.get("gflop_per_cpu_second"), row.get("cpu_fraction_of_gemm"), row.get("performed_gflop"), row.get("work"),
                        row.get("performed_gflops"), row.get("performed_fraction_of_gemm"), row.get("vm_hwm_mb"), row.get("estimated_mb"),
                        speedup == null ? "" : String.format("%.2fx", (double) speedup), row.get("fraction_of_limit"), row.get("wall_fraction_of_limit"),
                        row.get("fraction_of_amx") == null ? "" : String.format("%.3f", (double) row.get("fraction_of_amx")),
                        row.get("others_cpu_seconds") == null ? "?" : String.format("%.1f", (double) row.get("others_cpu_seconds")));
            }
            for (Map<String, Object> row : rows) {
                if (row.get("onednn_seconds") instanceof Double inside) {
                    System.out.printf("%s %s: inside oneDNN %.2f of its %.2f s, its primitives at %.1f GFLOP/s = %.3f of the peak%n", row.get("size"), row.get("mode"),
                            inside, (double) row.get("seconds"), (double) row.get("onednn_gflops"), (double) row.get("onednn_fraction_of_limit"));
                }
            }
            if (oneDnn || MatmulBackend.current() == MatmulBackend.ONEDNN) {
                System.out.println("oneDNN convolutions: " + String.join(", ", OneDnnConv.implementations()));
                System.out.println("of peak: the nominal rate over the limit's peak per CPU time (" + peaks.bf16Limit().reason()
                        + " for the oneDNN rows, f32 FMA for the Java ones); wall/wall: over its wall-clock peak; of AMX: over the AMX peak where that is not the limit");
            }
            skipped.forEach(m -> System.out.println("skipped " + m));
            System.out.println("GFLOP/s, GFLOP/cpu: the untiled decode's arithmetic (nominal) per second, what image throughput follows;"
                    + " perf GF: the arithmetic the decode performs (a tiled one decodes its overlaps once per tile), work = perf GF / nominal,"
                    + " perf GF/s: the rate the convolutions actually run at.");
            System.out.println("Per CPU-second rates discount other processes sharing the cores; wall-clock rates do not.");
            System.out.println("of peak: the nominal rate as a fraction of the peak of the convolutions' arithmetic (f32 FMA on java,"
                    + " bf16 on onednn; bench peak); others CPU-s: CPU time other processes took during the decode.");
            System.out.println("VmHWM: peak resident memory of the whole process (weights, JVM, heap the GC has grown and kept),"
                    + " reset before each decode; est.: the planner's estimate of the decode's activations.");
        }
    }

    private static void warmUp(AutoEncoder ae) {
        ae.withTiling(Tiling.off()).decode(new float[16 * WARMUP * WARMUP], WARMUP, WARMUP);
        ae.withTiling(Tiling.always(WARMUP / 2, WARMUP / 8)).decode(new float[16 * WARMUP * WARMUP], WARMUP, WARMUP);
    }

    /** The decode on the process's backend, then (when {@code oneDnn}) with oneDNN's convolution, and their ratio. */
    private static List<Map<String, Object>> measure(AutoEncoder ae, String mode, int side, float[] z, double nominal, boolean oneDnn) {
        Map<String, Object> own = measure(ae, mode, side, z, nominal, Conv2d.kernel());
        if (!oneDnn) return List.of(own);
        List<Map<String, Object>> rows = new ArrayList<>(List.of(own));
        Conv2d.using(Conv2d.oneDnn(), () -> rows.add(measure(ae, mode, side, z, nominal, Conv2d.kernel())));
        rows.getLast().put("speedup_over_java", (double) own.get("seconds") / (double) rows.getLast().get("seconds"));
        rows.getLast().put("onednn_implementations", OneDnnConv.implementations());
        return rows;
    }

    /**
     * One timed decode. Rates on {@code nominal}, the untiled decode's FLOPs, measure image throughput; rates on the
     * FLOPs the decode performs (more when tiled: {@link AutoEncoder#plannedDecodeFlops}) measure the kernels.
     */
    private static Map<String, Object> measure(AutoEncoder ae, String mode, int side, float[] z, double nominal, ConvKernel kernel) {
        int h = side / 8, w = side / 8;
        double performed = ae.plannedDecodeFlops(h, w);
        System.gc();
        resetPeaks();
        CpuLoad.Mark mark = CpuLoad.mark();
        OneDnnTime.Span before = OneDnnTime.mark();
        long t0 = System.nanoTime(), c0 = cpuNanos();
        float[] img = ae.decode(z, h, w);
        double s = (System.nanoTime() - t0) / 1e9, cpu = (cpuNanos() - c0) / 1e9;
        OneDnnTime.Span inside = OneDnnTime.mark().since(before);
        CpuLoad.Interval load = CpuLoad.since(mark);
        if (img.length != 3 * side * side) throw new IllegalStateException("decode returned " + img.length + " values");
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("size", side + "x" + side);
        row.put("mode", mode);
        row.put("conv", kernel instanceof OneDnnConv ? "onednn" : "java");
        row.put("seconds", s);
        row.put("cpu_seconds", cpu);
        row.put("nominal_gflop", nominal / 1e9);
        row.put("gflops", nominal / s / 1e9);
        row.put("gflop_per_cpu_second", nominal / cpu / 1e9);
        row.put("performed_gflop", performed / 1e9);
        row.put("work", performed / nominal);
        row.put("performed_gflops", performed / s / 1e9);
        row.put("performed_gflop_per_cpu_second", performed / cpu / 1e9);
        row.put("vm_hwm_mb", vmHwm() >> 20);
        row.put("estimated_mb", ae.plannedDecodeBytes(h, w) >> 20);
        // The limit of the convolutions' arithmetic: bf16 products under oneDNN, f32 FMA on the Java path.
        // After the decode: under oneDNN the limit is the peak of the instruction its kernels just used.
        Peaks peaks = Peaks.get();
        Peaks.Peak limit = peaks.limit(kernel instanceof OneDnnConv), amx = peaks.amxBeside(limit);
        row.put("limit", limit.instruction());
        row.put("limit_reason", peaks.limitReason(kernel instanceof OneDnnConv));
        row.put("fraction_of_limit", Peaks.fraction(nominal / s / 1e9, limit));
        row.put("wall_fraction_of_limit", Peaks.wallFraction(nominal / s / 1e9, limit));
        row.put("fraction_of_amx", amx == null ? null : Peaks.fraction(nominal / s / 1e9, amx));
        row.put("performed_fraction_of_limit", Peaks.fraction(performed / s / 1e9, limit));
        row.put("limit_seconds", nominal / 1e9 / limit.cpuGflops());
        row.put("others_cpu_seconds", load.known() ? load.othersCpuSeconds() : null);
        row.put("load", load.toMap());
        if (inside.nanos() > 0) {
            row.put("onednn_seconds", inside.seconds());
            row.put("onednn_gflops", inside.gflops());
            row.put("onednn_fraction_of_limit", Peaks.fraction(inside.gflops(), limit));
        }
        return row;
    }

    /** A decoder-only checkpoint in BFL names with the given sizes and random weights (fan-in scaled). */
    public static Checkpoint randomDecoder(VaeConfig c, DType dt, Arena arena) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        SplittableRandom r = new SplittableRandom(42);
        int top = c.channels(c.levels() - 1);
        conv(t, "decoder.conv_in", c.zChannels(), top, 3, dt, r, arena);
        for (String b : List.of("decoder.mid.block_1.", "decoder.mid.block_2.")) resnet(t, b, top, top, dt, r, arena);
        norm(t, "decoder.mid.attn_1.norm", top, arena);
        for (String p : List.of("q", "k", "v", "proj_out")) conv(t, "decoder.mid.attn_1." + p, top, top, 1, dt, r, arena);
        int in = top;
        for (int level = c.levels() - 1; level >= 0; level--) {
            int out = c.channels(level);
            for (int i = 0; i <= c.numResBlocks(); i++) {
                resnet(t, "decoder.up." + level + ".block." + i + ".", in, out, dt, r, arena);
                in = out;
            }
            if (level > 0) conv(t, "decoder.up." + level + ".upsample.conv", out, out, 3, dt, r, arena);
        }
        norm(t, "decoder.norm_out", in, arena);
        conv(t, "decoder.conv_out", in, c.outChannels(), 3, dt, r, arena);
        return Checkpoint.of("random FLUX VAE decoder (" + dt + ")", t);
    }

    /** A whole autoencoder (decoder and encoder) in BFL names with the given sizes and random weights. */
    public static Checkpoint randomAutoEncoder(VaeConfig c, DType dt, Arena arena) {
        Map<String, Tensor> t = new LinkedHashMap<>(randomDecoder(c, dt, arena).tensors());
        SplittableRandom r = new SplittableRandom(43);
        conv(t, "encoder.conv_in", c.inChannels(), c.ch(), 3, dt, r, arena);
        int in = c.ch();
        for (int level = 0; level < c.levels(); level++) {
            int out = c.channels(level);
            for (int i = 0; i < c.numResBlocks(); i++) {
                resnet(t, "encoder.down." + level + ".block." + i + ".", in, out, dt, r, arena);
                in = out;
            }
            if (level < c.levels() - 1) conv(t, "encoder.down." + level + ".downsample.conv", out, out, 3, dt, r, arena);
        }
        for (String b : List.of("encoder.mid.block_1.", "encoder.mid.block_2.")) resnet(t, b, in, in, dt, r, arena);
        norm(t, "encoder.mid.attn_1.norm", in, arena);
        for (String p : List.of("q", "k", "v", "proj_out")) conv(t, "encoder.mid.attn_1." + p, in, in, 1, dt, r, arena);
        norm(t, "encoder.norm_out", in, arena);
        conv(t, "encoder.conv_out", in, 2 * c.zChannels(), 3, dt, r, arena);
        return Checkpoint.of("random FLUX VAE (" + dt + ")", t);
    }

    private static void resnet(Map<String, Tensor> t, String p, int in, int out, DType dt, SplittableRandom r, Arena arena) {
        norm(t, p + "norm1", in, arena);
        conv(t, p + "conv1", in, out, 3, dt, r, arena);
        norm(t, p + "norm2", out, arena);
        conv(t, p + "conv2", out, out, 3, dt, r, arena);
        if (in != out) conv(t, p + "nin_shortcut", in, out, 1, dt, r, arena);
    }

    private static void conv(Map<String, Tensor> t, String name, int in, int out, int k, DType dt, SplittableRandom r, Arena arena) {
        t.put(name + ".weight", random(name + ".weight", dt, new long[]{out, in, k, k}, (float) Math.sqrt(3.0 / (in * k * k)), r, arena));
        t.put(name + ".bias", random(name + ".bias", DType.F32, new long[]{out}, 0.02f, r, arena));
    }

    private static void norm(Map<String, Tensor> t, String name, int c, Arena arena) {
        t.put(name + ".weight", RandomFlux.uniform(name + ".weight", DType.F32, new long[]{c}, 1f, 1f, 0, arena));
        t.put(name + ".bias", RandomFlux.uniform(name + ".bias", DType.F32, new long[]{c}, 0f, 0f, 0, arena));
    }

    private static Tensor random(String name, DType dt, long[] shape, float scale, SplittableRandom r, Arena arena) {
        return RandomFlux.uniform(name, dt, shape, -scale, scale, r.nextLong(), arena);
    }

    /** CPU time of the whole process (all threads, GC and JIT included), nanoseconds. */
    static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** Resets the kernel's peak-RSS counter (Linux: "5" to clear_refs). */
    static void resetPeaks() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | UnsupportedOperationException e) {
            // Not Linux, or not permitted: VmHWM then is the peak since the process started.
        }
    }

    /** Peak resident set size of the whole process (VmHWM), or -1 where /proc is absent. */
    static long vmHwm() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
            }
        } catch (IOException e) {
            return -1;
        }
        return -1;
    }
}
