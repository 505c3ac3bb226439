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
                double java = rate(jm, k, n, () -> Matmul.matmul(x, jm, k, w, bias, y));
                for (int m : rows) {
                    double onednn = rate(m, k, n, () -> OneDnnMatmul.matmul(x, m, k, w, bias, y));
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("m", (long) m); row.put("k", (long) k); row.put("n", (long) n);
                    row.put("java_gflops", java); row.put("onednn_gflops", onednn);
                    out.add(row);
                }
            }
        }
        double bestJava = out.stream().mapToDouble(r -> (double) r.get("java_gflops")).max().orElseThrow();
        for (Map<String, Object> r : out) r.put("ratio_to_best_java", (double) r.get("onednn_gflops") / bestJava);
        print(out, bestJava);
        return 0;
    }

    private void print(List<Map<String, Object>> out, double bestJava) {
        double logSum = 0;
        for (Map<String, Object> r : out) logSum += Math.log((double) r.get("ratio_to_best_java"));
        double geo = Math.exp(logSum / out.size());
        OneDnnLibrary.Loaded lib = (OneDnnLibrary.Loaded) OneDnnLibrary.found();
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("library", lib.describe());
            doc.put("weights", dtype.name());
            doc.put("threads", (long) Runtime.getRuntime().availableProcessors());
            doc.put("rows", out);
            doc.put("best_java_gflops", bestJava);
            doc.put("geomean_ratio_to_best_java", geo);
            System.out.println(Json.write(doc));
            return;
        }
        System.out.printf("%s, %s weights, %d cores; Java timed on %d rows%n", lib.describe(), dtype,
                Runtime.getRuntime().availableProcessors(), javaRows);
        System.out.printf("%6s %6s %6s %12s %14s %10s%n", "M", "K", "N", "java GFLOP/s", "onednn GFLOP/s", "vs best");
        for (Map<String, Object> r : out) {
            System.out.printf("%6d %6d %6d %12.1f %14.1f %9.2fx%n", r.get("m"), r.get("k"), r.get("n"),
                    r.get("java_gflops"), r.get("onednn_gflops"), r.get("ratio_to_best_java"));
        }
        System.out.printf("best Java rate %.1f GFLOP/s; oneDNN geometric mean %.2fx of it%n", bestJava, geo);
    }

    /** Best GFLOP/s over the timed runs, after one warm-up run. */
    private double rate(int m, int k, int n, Runnable run) {
        run.run();
        long best = Long.MAX_VALUE;
        for (int i = 0; i < repeat; i++) {
            long t = System.nanoTime();
            run.run();
            best = Math.min(best, System.nanoTime() - t);
        }
        return 2.0 * m * k * n / best;
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
