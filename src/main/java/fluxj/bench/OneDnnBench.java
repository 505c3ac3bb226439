package fluxj.bench;

import fluxj.io.Json;
import fluxj.tensor.DType;
import fluxj.tensor.Matmul;
import fluxj.tensor.Parallel;
import fluxj.tensor.Tensor;
import fluxj.tensor.onednn.OneDnnLibrary;
import fluxj.tensor.onednn.OneDnnMatmul;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code fluxj bench onednn}: oneDNN's bf16 matmul against the pure-Java matmul on the FLUX transformer's GEMM
 * shapes, same random weights, in GFLOP/s and as the ratio to the best Java rate of the run.
 */
@Command(name = "onednn", mixinStandardHelpOptions = true,
        description = "oneDNN bf16 matmul vs the pure-Java matmul on FLUX shapes (GFLOP/s, ratio to the best Java rate of the run).")
public final class OneDnnBench implements Callable<Integer> {
    private static final int[][] KN = {{3072, 3072}, {3072, 12288}, {12288, 3072}, {3072, 9216}, {15360, 3072}};

    @Option(names = "--rows", split = ",", defaultValue = "1024,4352", description = "Values of M (tokens); default ${DEFAULT-VALUE}.")
    int[] rows;

    @Option(names = "--java-rows", defaultValue = "256",
            description = "Rows the Java matmul is timed on (its rate per flop hardly depends on M); default ${DEFAULT-VALUE}.")
    int javaRows;

    @Option(names = "--dtype", defaultValue = "BF16", description = "Weight dtype: BF16, F8_E4M3, F16 or F32; default ${DEFAULT-VALUE}.")
    DType dtype;

    @Option(names = "--repeat", defaultValue = "2", description = "Timed runs per row after one warm-up (best is kept); default ${DEFAULT-VALUE}.")
    int repeat;

    @Option(names = "--json", description = "Print one JSON document instead of a table.")
    boolean json;

    @Override
    public Integer call() {
        if (OneDnnLibrary.found() instanceof OneDnnLibrary.Missing m) throw new IllegalStateException(m.reason());
        if (dtype != DType.BF16 && dtype != DType.F8_E4M3 && dtype != DType.F8_E5M2 && dtype != DType.F16 && dtype != DType.F32) throw new IllegalArgumentException("--dtype must be BF16, F8_E4M3, F8_E5M2, F16 or F32");
        int maxM = 0;
        for (int m : rows) maxM = Math.max(maxM, m);
        int maxK = 0, maxN = 0;
        for (int[] kn : KN) { maxK = Math.max(maxK, kn[0]); maxN = Math.max(maxN, kn[1]); }
        float[] x = new float[maxM * maxK];
        float[] y = new float[maxM * maxN];
        fill(x);
        List<Map<String, Object>> out = new ArrayList<>();
        for (int[] kn : KN) {
            int k = kn[0], n = kn[1];
            try (Arena arena = Arena.ofShared()) {
                Tensor w = weights(arena, n, k);
                float[] bias = new float[n];
                int jm = Math.min(javaRows, maxM);
                Rate java = rate(jm, k, n, () -> Matmul.matmul(x, jm, k, w, bias, y));
                for (int m : rows) {
                    Rate onednn = rate(m, k, n, () -> OneDnnMatmul.matmul(x, m, k, w, bias, y));
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("m", (long) m); row.put("k", (long) k); row.put("n", (long) n);
                    row.put("java_gflops", java.wall()); row.put("java_gflops_per_cpu_second", java.cpu());
                    row.put("onednn_gflops", onednn.wall()); row.put("onednn_gflops_per_cpu_second", onednn.cpu());
                    out.add(row);
                }
            }
        }
        double bestJava = max(out, "java_gflops"), bestJavaCpu = max(out, "java_gflops_per_cpu_second");
        for (Map<String, Object> r : out) {
            r.put("ratio_to_best_java", (double) r.get("onednn_gflops") / bestJava);
            r.put("cpu_ratio_to_best_java", (double) r.get("onednn_gflops_per_cpu_second") / bestJavaCpu);
        }
        print(out, bestJava, bestJavaCpu);
        return 0;
    }

    private void print(List<Map<String, Object>> out, double bestJava, double bestJavaCpu) {
        double geo = geomean(out, "ratio_to_best_java"), geoCpu = geomean(out, "cpu_ratio_to_best_java");
        OneDnnLibrary.Loaded lib = (OneDnnLibrary.Loaded) OneDnnLibrary.found();
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("library", lib.describe());
                        doc.put("weights", dtype.name());
            doc.put("cores", (long) Runtime.getRuntime().availableProcessors());
            doc.put("rows", out);
            doc.put("best_java_gflops", bestJava);
            doc.put("best_java_gflops_per_cpu_second", bestJavaCpu);
            doc.put("geomean_ratio_to_best_java", geo);
            doc.put("geomean_cpu_ratio_to_best_java", geoCpu);
            System.out.println(Json.write(doc));
            return;
        }
        System.out.printf("%s%nagainst the Java matmul; %s weights, %d cores, Java timed on %d rows%n", lib.describe(), dtype,
                Runtime.getRuntime().availableProcessors(), javaRows);
        System.out.printf("%6s %6s %6s | %9s %9s | %9s %9s | %8s %8s%n", "M", "K", "N", "java", "java/cpu", "onednn",
                "onednn/cpu", "ratio", "cpu ratio");
        for (Map<String, Object> r : out) {
            System.out.printf("%6d %6d %6d | %9.1f %9.1f | %9.1f %9.1f | %7.2fx %7.2fx%n", r.get("m"), r.get("k"), r.get("n"),
                    r.get("java_gflops"), r.get("java_gflops_per_cpu_second"), r.get("onednn_gflops"),
                    r.get("onednn_gflops_per_cpu_second"), r.get("ratio_to_best_java"), r.get("cpu_ratio_to_best_java"));
        }
        System.out.printf("GFLOP/s on the wall clock, and GFLOP per CPU-second of the process (meaningful when other processes"
                + " share the cores); ratios to the best Java rate of the run.%nbest Java %.1f GFLOP/s (%.1f per CPU-second);"
                + " oneDNN geometric mean %.2fx of it (%.2fx per CPU-second)%n", bestJava, bestJavaCpu, geo, geoCpu);
    }

    private static double max(List<Map<String, Object>> rows, String key) {
        return rows.stream().mapToDouble(r -> (double) r.get(key)).max().orElseThrow();
    }

    private static double geomean(List<Map<String, Object>> rows, String key) {
        return Math.exp(rows.stream().mapToDouble(r -> Math.log((double) r.get(key))).average().orElseThrow());
    }

    /** GFLOP/s on the wall clock and GFLOP per CPU-second of the process. */
    private record Rate(double wall, double cpu) {}

    /** The best of the timed runs (after one warm-up run), on the wall clock and in process CPU time. */
    private Rate rate(int m, int k, int n, Runnable run) {
        run.run();
        long wall = Long.MAX_VALUE, cpu = Long.MAX_VALUE;
        for (int i = 0; i < repeat; i++) {
            long t = System.nanoTime(), c = cpuNanos();
            run.run();
            wall = Math.min(wall, System.nanoTime() - t);
            cpu = Math.min(cpu, cpuNanos() - c);
        }
        double flops = 2.0 * m * k * n;
        return new Rate(flops / wall, flops / cpu);
    }

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private Tensor weights(Arena arena, int n, int k) {
        long count = (long) n * k;
        MemorySegment data = arena.allocate(count * dtype.byteSize(), 64);
        int parts = Parallel.threads() * 4;
        Parallel.forEach(parts, p -> {
            for (long i = count * p / parts, e = count * (p + 1) / parts; i < e; i++) {
                float v = noise(i) * 0.05f;
                switch (dtype) {
                    case BF16 -> data.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, DType.floatToBf16(v));
                    case F16 -> data.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16(v));
                    case F32 -> data.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
                    case F8_E5M2 -> data.set(ValueLayout.JAVA_BYTE, i, (byte) (Float.floatToFloat16(v) >> 8));
                    default -> data.set(ValueLayout.JAVA_BYTE, i, DType.floatToFp8E4M3(v * 20));
                }
            }
        });
        return new Tensor("bench." + n + "x" + k, dtype, new long[] {n, k}, data, "bench");
    }

    private static void fill(float[] x) {
        int parts = Parallel.threads() * 4;
        Parallel.forEach(parts, p -> {
            for (int i = (int) ((long) x.length * p / parts), e = (int) ((long) x.length * (p + 1) / parts); i < e; i++) x[i] = noise(i);
        });
    }

    /** A cheap deterministic value in [-1, 1) (a hash of the index): filling 100M elements with Random would dominate. */
    private static float noise(long i) {
        long h = i * 0x9E3779B97F4A7C15L;
        h ^= h >>> 29;
        h *= 0xBF58476D1CE4E5B9L;
        return ((h >>> 40) / (float) (1 << 24)) * 2 - 1;
    }
}
