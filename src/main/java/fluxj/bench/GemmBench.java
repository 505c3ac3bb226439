package fluxj.bench;

import fluxj.gguf.Quantizer;
import fluxj.io.Json;
import fluxj.tensor.Attention;
import fluxj.tensor.DType;
import fluxj.tensor.Matmul;
import fluxj.tensor.Parallel;
import fluxj.tensor.Tensor;
import fluxj.tensor.onednn.OneDnnLibrary;
import fluxj.tensor.onednn.OneDnnMatmul;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * {@code fluxj bench gemm}: GFLOP/s of {@link Matmul} on FLUX's linear-layer shapes for every weight dtype, on
 * one core and on all cores, against numpy's sgemm (OpenBLAS, f32) on the same shapes measured in the same run
 * by {@code scripts/blas_gemm.py}; plus flash attention at FLUX-dev 1024x1024 size. Where oneDNN is installed,
 * its bf16 matmul ({@link OneDnnMatmul}, all cores) gets rows too, also as ratios to the Java F32 rate.
 */
@Command(name = "gemm", mixinStandardHelpOptions = true,
        description = {"Matmul GFLOP/s per weight dtype (GGUF block types too) on FLUX shapes, as ratios of numpy/OpenBLAS sgemm "
                + "and of the BF16 rate measured in the same run; attention GFLOP/s.",
                "Each GGUF row has two ratios to BF16 on the same backend and shape: 'ratio' divides the row's best rate by the "
                + "BF16 row's best (measured earlier, as a block of calls); 'paired ratio' times the GGUF type and BF16 "
                + "interleaved, --reps pairs of adjacent calls (BF16 first in every other pair), and is the median over the "
                + "pairs of (type rate / BF16 rate of the same pair). The paired ratio is the one to read on a machine whose "
                + "speed drifts from second to second (shared cores, a hypervisor's steal time)."})
public final class GemmBench implements Runnable {
    private static final int[][] KN = {{3072, 3072}, {3072, 12288}, {12288, 3072}, {3072, 9216}, {15360, 3072}};
    private static final int[] MS = {1024, 4352};
    private static final DType[] DTYPES = {DType.F32, DType.F16, DType.BF16, DType.F8_E4M3, DType.F8_E5M2};
    /** BF16 weights are used in place by oneDNN; FP8 ones are narrowed to bf16 per call. */
    private static final DType[] ONEDNN_DTYPES = {DType.BF16, DType.F8_E4M3};
    /** GGUF block types: rows on both backends, as ratios to the BF16 row of the same backend, shape and run. */
    private static final DType[] GGUF_DTYPES = {DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.Q2_K, DType.Q3_K,
            DType.Q4_K, DType.Q5_K, DType.Q6_K, DType.IQ4_NL, DType.IQ4_XS};
    private static final int ATTN_TOKENS = 4352, ATTN_HEADS = 24, ATTN_DIM = 128;

    @Option(names = "--json", description = "Print one JSON document instead of tables.")
    boolean json;

    @Option(names = "--threads", description = "Threads for the all-cores runs (default: all cores).")
    Integer threads;

    @Option(names = "--quick", description = "Only M=1024 and two shapes, one timed run each.")
    boolean quick;

    @Option(names = "--reps", description = "Timed calls per row, the best kept (default: 1 with --quick, else 2). "
            + "More calls make a row taken while other work shares the cores nearer to the quiet rate. "
            + "GGUF rows: this many pairs of a BF16 call and a call of the type, for the paired ratio.")
    Integer reps;

    @Option(names = "--types", split = ",", paramLabel = "DTYPE",
            description = "Only rows of these weight dtypes, e.g. Q5_0,IQ4_XS (F32 and BF16, the references of the ratios, always run).")
    List<DType> types;

    private static final com.sun.management.OperatingSystemMXBean CPU =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    private static Rate best;

    /**
     * A GEMM rate: GFLOP/s by wall clock, and GFLOP per CPU-second of the whole process (which other processes
     * sharing the cores distort far less than wall clock).
     */
    public record Rate(double gflops, double gflopPerCpuSecond) {}

    /**
     * The GEMM benchmark's best rate in GFLOP/s (F32 weights, M=1024, K=N=3072, all cores, wall clock), measured
     * once per process (about a second); other benchmarks report their throughput as a fraction of it.
     */
    public static double bestRate() {
        return reference().gflops();
    }

    /** {@link #bestRate()} with its CPU-time counterpart; measured on the first call. */
    public static synchronized Rate reference() {
        if (best == null) {
            warmUp(new SplittableRandom(1));
            remeasure();
        }
        return best;
    }

    /**
     * Measures the reference again and keeps the best of all measurements: benchmarks that run long call it
     * between their runs, as a product caught in a quiet moment is the fairest measure of what the cores can do
     * while other processes come and go.
     */
    public static synchronized Rate remeasure() {
        SplittableRandom rnd = new SplittableRandom(1);
        double[] g = gemmRate(1024, 3072, weight(DType.F32, 3072, 3072, rnd), activations(1024 * 3072, rnd), 3);
        // gemmRate's CPU rate is per thread of the pool; the process's total CPU time is threads times as much.
        Rate r = new Rate(g[0], g[1] / Parallel.threads());
        best = best == null ? r : new Rate(Math.max(best.gflops(), r.gflops()), Math.max(best.gflopPerCpuSecond(), r.gflopPerCpuSecond()));
        return best;
    }

    @Override
    public void run() {
        int all = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        int before = Parallel.threads();
        int[] threadCounts = all == 1 ? new int[] {1} : new int[] {1, all};
        if (this.reps != null && this.reps < 1) throw new IllegalArgumentException("--reps must be at least 1, not " + this.reps);
        int reps = this.reps != null ? this.reps : quick ? 1 : 2;
        int[] ms = quick ? new int[] {1024} : MS;
        int[][] kns = quick ? new int[][] {KN[0], KN[2]} : KN;
        DType[] dtypes = selected(DTYPES), ggufDtypes = selected(GGUF_DTYPES), onednnDtypes = selected(ONEDNN_DTYPES);
        Path script = Scripts.find("blas_gemm.py");
        List<Map<String, Object>> gemm = new ArrayList<>(), attention = new ArrayList<>();
        Map<String, Object> blasInfo = new LinkedHashMap<>();
        String blasMissing = script == null ? "scripts/blas_gemm.py not found next to the jar or in the working folder" : null;
        OneDnnLibrary.Found onednn = OneDnnLibrary.found();
        Peaks peaks = Peaks.get();
        if (!json) peaks.describe().forEach(System.out::println);
        try {
            SplittableRandom rnd = new SplittableRandom(7);
            warmUp(rnd);
            for (int t : threadCounts) {
                Parallel.setThreads(t);
                for (int[] kn : kns) {
                    int k = kn[0], n = kn[1];
                    Map<DType, Tensor> weights = new LinkedHashMap<>();
                    for (DType dt : dtypes) weights.put(dt, weight(dt, n, k, rnd));
                    for (DType dt : ggufDtypes) weights.put(dt, weight(dt, n, k, rnd));
                    for (int m : ms) {
                        double[] blas = null;
                        if (blasMissing == null) {
                            try {
                                Map<String, Object> r = blas(script, t, reps, m, k, n);
                                blasInfo.put("numpy", r.get("numpy"));
                                blasInfo.put("blas", r.get("blas"));
                                List<?> rates = (List<?>) ((Map<?, ?>) r.get("rates")).get(m + "," + k + "," + n);
                                blas = new double[] {((Number) rates.get(0)).doubleValue(), ((Number) rates.get(1)).doubleValue()};
                            } catch (IOException | RuntimeException e) {
                                blasMissing = "python3/numpy reference failed: " + e.getMessage();
                            }
                        }
                        float[] x = activations(m * k, rnd);
                        double[] f32 = null, bf16 = null;
                        for (DType dt : dtypes) {
                            CpuLoad.Mark mark = CpuLoad.mark();
                            double[] g = gemmRate(m, k, weights.get(dt), x, reps);
                            if (dt == DType.F32) f32 = g;
                            if (dt == DType.BF16) bf16 = g;
                            Map<String, Object> row = row(t, m, k, n, dt.name(), g, blas);
                            limit(row, g, t, peaks.limit(), CpuLoad.since(mark));
                            gemm.add(row);
                            if (!json) printRow(row);
                        }
                        for (DType dt : ggufDtypes) {
                            CpuLoad.Mark mark = CpuLoad.mark();
                            Paired p = pairedGemm(m, k, weights.get(DType.BF16), weights.get(dt), x, reps);
                            double[] g = p.rate();
                            Map<String, Object> row = row(t, m, k, n, dt.name(), g, blas);
                            limit(row, g, t, peaks.limit(), CpuLoad.since(mark));
                            row.put("bf16Ratio", ratio(g[0], bf16[0]));
                            row.put("bf16CpuRatio", ratio(g[1], bf16[1]));
                            p.put(row);
                            gemm.add(row);
                            if (!json) printRow(row);
                        }
                        // oneDNN runs on all cores whatever the Java pool's size: only the all-cores pass compares.
                        if (t == all && onednn instanceof OneDnnLibrary.Loaded) {
                            double[] onednnBf16 = null;
                            for (DType dt : onednnDtypes) {
                                CpuLoad.Mark mark = CpuLoad.mark();
                                double[] g = oneDnnRate(m, k, weights.get(dt), x, reps);
                                if (dt == DType.BF16) onednnBf16 = g;
                                Map<String, Object> row = row(t, m, k, n, dt.name() + "/onednn", g, blas);
                                limit(row, g, t, peaks.bf16(), CpuLoad.since(mark));
                                row.put("javaF32Ratio", ratio(g[0], f32[0]));
                                row.put("javaF32CpuRatio", ratio(g[1], f32[1]));
                                gemm.add(row);
                                if (!json) printRow(row);
                            }
                            for (DType dt : ggufDtypes) {
                                CpuLoad.Mark mark = CpuLoad.mark();
                                Paired p = pairedOneDnn(m, k, weights.get(DType.BF16), weights.get(dt), x, reps);
                                double[] g = p.rate();
                                Map<String, Object> row = row(t, m, k, n, dt.name() + "/onednn", g, blas);
                                limit(row, g, t, peaks.bf16(), CpuLoad.since(mark));
                                row.put("bf16Ratio", ratio(g[0], onednnBf16[0]));
                                row.put("bf16CpuRatio", ratio(g[1], onednnBf16[1]));
                                p.put(row);
                                gemm.add(row);
                                if (!json) printRow(row);
                            }
                        }
                    }
                }
                CpuLoad.Mark mark = CpuLoad.mark();
                double[] a = attentionRate(reps);
                CpuLoad.Interval load = CpuLoad.since(mark);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("threads", t); row.put("tokens", ATTN_TOKENS); row.put("heads", ATTN_HEADS);
                row.put("headDim", ATTN_DIM); row.put("gflops", round(a[0])); row.put("cpuGflops", round(a[1]));
                row.put("load", load.toMap());
                attention.add(row);
                if (!json) System.out.printf("attention %d tokens, %d heads x %d, %d thread(s): %.1f GFLOP/s (per CPU time %.1f); %s%n",
                        ATTN_TOKENS, ATTN_HEADS, ATTN_DIM, t, a[0], a[1], load.describe());
            }
        } finally {
            Parallel.setThreads(before);
        }
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("kernel", Matmul.kernel().name());
        doc.put("peaks", peaks.toMap());
        doc.put("reference", blasMissing == null ? blasInfo : null);
        doc.put("referenceMissing", blasMissing);
        doc.put("gemm", gemm);
        doc.put("attention", attention);
        doc.put("summary", summary(gemm));
        doc.put("onednn", switch (onednn) {
            case OneDnnLibrary.Loaded l -> l.describe();
            case OneDnnLibrary.Missing m -> "no rows: " + m.reason();
        });
        if (json) {
            System.out.println(Json.write(doc));
        } else {
            System.out.println("kernel: " + Matmul.kernel().name());
            if (blasMissing != null) System.out.println("no BLAS reference (" + blasMissing + "): absolute figures only");
            else System.out.println("reference: numpy " + blasInfo.get("numpy") + ", " + blasInfo.get("blas") + " sgemm on f32 copies");
            System.out.println("(cpu: rates per CPU-second of each thread, which other processes on the cores distort far less than wall clock)");
            for (Map<String, Object> s : summary(gemm)) {
                System.out.printf("summary %-8s %s thread(s): mean %.1f GFLOP/s (cpu %.1f), ratio to BLAS mean %s min %s, cpu ratio mean %s min %s%n",
                        s.get("dtype"), s.get("threads"), (Double) s.get("meanGflops"), (Double) s.get("meanCpuGflops"),
                        s.get("meanRatio"), s.get("minRatio"), s.get("meanCpuRatio"), s.get("minCpuRatio"));
                if (s.get("meanBf16Ratio") != null) {
                    System.out.printf("        %-8s against %s on the same shapes: mean %s (cpu %s), min %s (cpu %s)%n", s.get("dtype"),
                            ((String) s.get("dtype")).endsWith("/onednn") ? "BF16/onednn" : "Java BF16",
                            s.get("meanBf16Ratio"), s.get("meanBf16CpuRatio"), s.get("minBf16Ratio"), s.get("minBf16CpuRatio"));
                }
                if (s.get("meanPairedBf16Ratio") != null) {
                    System.out.printf("        %-8s paired with %s: mean %s (cpu %s), min %s (cpu %s)%n", s.get("dtype"),
                            ((String) s.get("dtype")).endsWith("/onednn") ? "BF16/onednn" : "Java BF16",
                            s.get("meanPairedBf16Ratio"), s.get("meanPairedBf16CpuRatio"), s.get("minPairedBf16Ratio"), s.get("minPairedBf16CpuRatio"));
                }
                if (s.get("meanJavaF32Ratio") != null) {
                    System.out.printf("        %-8s against Java F32 on the same shapes: mean %s (cpu %s), min %s (cpu %s)%n", s.get("dtype"),
                            s.get("meanJavaF32Ratio"), s.get("meanJavaF32CpuRatio"), s.get("minJavaF32Ratio"), s.get("minJavaF32CpuRatio"));
                }
            }
            System.out.println("onednn: " + doc.get("onednn"));
        }
    }

    /** The dtypes of {@code all} that --types keeps (all without it), F32 and BF16 always: the ratios' references. */
    private DType[] selected(DType[] all) {
        return java.util.Arrays.stream(all).filter(dt -> types == null || types.contains(dt) || dt == DType.F32 || dt == DType.BF16)
                .toArray(DType[]::new);
    }

    private static Map<String, Object> row(int t, int m, int k, int n, String dtype, double[] g, double[] blas) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("threads", t); row.put("m", m); row.put("k", k); row.put("n", n);
        row.put("dtype", dtype); row.put("gflops", round(g[0])); row.put("cpuGflops", round(g[1]));
        row.put("blasGflops", blas == null ? null : round(blas[0]));
        row.put("blasCpuGflops", blas == null ? null : round(blas[1]));
        row.put("ratio", blas == null ? null : ratio(g[0], blas[0]));
        row.put("cpuRatio", blas == null ? null : ratio(g[1], blas[1]));
        return row;
    }

    /**
     * The row's fraction of the physical limit (the peak of its arithmetic on the cores it ran on, by wall clock and
     * per CPU time) and how much CPU time other processes took meanwhile.
     */
    private static void limit(Map<String, Object> row, double[] g, int threads, Peaks.Peak limit, CpuLoad.Interval load) {
        double share = (double) threads / Runtime.getRuntime().availableProcessors();
        row.put("limit", limit.present() ? limit.instruction() : null);
        row.put("fractionOfLimit", limit.present() ? ratio(g[0], limit.cpuGflops() * share) : null);
        row.put("cpuFractionOfLimit", limit.present() ? ratio(g[1], limit.cpuGflops() * share) : null);
        row.put("load", load.toMap());
        row.put("othersCpuSeconds", load.known() ? round(load.othersCpuSeconds()) : null);
    }

    private static void printRow(Map<String, Object> r) {
        String blas = r.get("ratio") == null ? "" : String.format("   BLAS %6.1f (cpu %6.1f)   ratio %.3f (cpu %.3f)",
                (Double) r.get("blasGflops"), (Double) r.get("blasCpuGflops"), (Double) r.get("ratio"), (Double) r.get("cpuRatio"));
        String java = r.get("javaF32Ratio") == null ? "" : String.format("   Java F32 ratio %.3f (cpu %.3f)",
                (Double) r.get("javaF32Ratio"), (Double) r.get("javaF32CpuRatio"));
        if (r.get("bf16Ratio") != null) {
            java += String.format("   %s ratio %.3f (cpu %.3f)", ((String) r.get("dtype")).endsWith("/onednn") ? "BF16/onednn" : "Java BF16",
                    (Double) r.get("bf16Ratio"), (Double) r.get("bf16CpuRatio"));
        }
        if (r.get("pairedBf16Ratio") != null) {
            java += String.format("   paired ratio %.3f (cpu %.3f; median of %s pairs, %s %.1f)", (Double) r.get("pairedBf16Ratio"),
                    (Double) r.get("pairedBf16CpuRatio"), r.get("pairs"),
                    ((String) r.get("dtype")).endsWith("/onednn") ? "BF16/onednn" : "Java BF16", (Double) r.get("pairedBf16Gflops"));
        }
        String limit = r.get("fractionOfLimit") == null ? "" : String.format("   %.3f of the %s peak (cpu %.3f)",
                (Double) r.get("fractionOfLimit"), r.get("limit"), (Double) r.get("cpuFractionOfLimit"));
        System.out.printf("gemm M=%-5s K=%-6s N=%-6s %-8s %s thread(s): %6.1f GFLOP/s (cpu %6.1f)%s%s%s; others %s CPU-s%n", r.get("m"), r.get("k"),
                r.get("n"), r.get("dtype"), r.get("threads"), (Double) r.get("gflops"), (Double) r.get("cpuGflops"), blas, java, limit,
                r.get("othersCpuSeconds"));
    }

    /** Per dtype and thread count: mean rates and mean/worst ratios to BLAS, by wall clock and by CPU time. */
    private static List<Map<String, Object>> summary(List<Map<String, Object>> gemm) {
        Map<String, List<Map<String, Object>>> groups = new LinkedHashMap<>();
        for (Map<String, Object> r : gemm) groups.computeIfAbsent(r.get("dtype") + "/" + r.get("threads"), g -> new ArrayList<>()).add(r);
        List<Map<String, Object>> out = new ArrayList<>();
        for (List<Map<String, Object>> g : groups.values()) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("dtype", g.get(0).get("dtype"));
            s.put("threads", g.get(0).get("threads"));
            s.put("meanGflops", round(g.stream().mapToDouble(r -> (Double) r.get("gflops")).average().orElse(0)));
            s.put("meanCpuGflops", round(g.stream().mapToDouble(r -> (Double) r.get("cpuGflops")).average().orElse(0)));
            for (String key : new String[] {"ratio", "cpuRatio", "javaF32Ratio", "javaF32CpuRatio", "bf16Ratio", "bf16CpuRatio", "pairedBf16Ratio", "pairedBf16CpuRatio"}) {
                boolean ratios = g.stream().allMatch(r -> r.get(key) != null);
                String name = Character.toUpperCase(key.charAt(0)) + key.substring(1);
                s.put("mean" + name, ratios ? ratio(g.stream().mapToDouble(r -> (Double) r.get(key)).average().orElse(0), 1) : null);
                s.put("min" + name, ratios ? g.stream().mapToDouble(r -> (Double) r.get(key)).min().orElse(0) : null);
            }
            out.add(s);
        }
        return out;
    }

    private static double ratio(double a, double b) { return Math.round(a / b * 1000) / 1000.0; }

    /**
     * Runs every kernel on small problems until the JIT has compiled them (under a second): the microkernels are
     * large methods, and the first timed runs would otherwise measure the JIT.
     */
    private static void warmUp(SplittableRandom rnd) {
        float[] x = activations(256 * 1024, rnd), y = new float[256 * 512];
        for (DType dt : java.util.stream.Stream.concat(java.util.Arrays.stream(DTYPES), java.util.Arrays.stream(GGUF_DTYPES)).toList()) {
            Tensor w = weight(dt, 512, 1024, rnd);
            for (int i = 0; i < 20; i++) {
                Matmul.matmul(x, 256, 1024, w, null, y);
                Matmul.matmul(x, 1, 1024, w, null, y);
            }
        }
        float[] q = activations(512 * 256, rnd), out = new float[512 * 256];
        for (int i = 0; i < 5; i++) Attention.attention(q, q, q, 512, 512, 2, 128, 0.1f, null, false, out);
    }

    /**
     * {wall, cpu} GFLOP/s: the best over {@code reps} timed calls after a small warm-up call, by wall clock and
     * by process CPU time per thread (robust when other processes share the cores; it also counts the JIT's and
     * GC's threads, so on an idle machine it reads lower than wall clock).
     */
    static double[] gemmRate(int m, int k, Tensor w, float[] x, int reps) {
        float[] y = new float[m * w.rows()];
        Matmul.matmul(x, Math.min(m, 192), k, w, null, y);
        return best(2.0 * m * k * w.rows(), reps, () -> Matmul.matmul(x, m, k, w, null, y));
    }

    /**
     * Like {@link #gemmRate} for oneDNN. The warm-up calls are full size, as oneDNN compiles a primitive per shape,
     * and there are several: the vector code rounding x to bf16 needs a few calls before the JIT has compiled it
     * (with one, the first shape timed read 140-170 GFLOP/s instead of ~330).
     */
    static double[] oneDnnRate(int m, int k, Tensor w, float[] x, int reps) {
        float[] y = new float[m * w.rows()];
        for (int i = 0; i < 4; i++) OneDnnMatmul.bf16(x, m, k, w, null, y);
        return best(2.0 * m * k * w.rows(), reps, () -> OneDnnMatmul.bf16(x, m, k, w, null, y));
    }

    /**
     * A GGUF row measured interleaved with its BF16 reference: {@code rate} and {@code reference} are the best
     * {wall, cpu} GFLOP/s of each over the window, {@code ratio}/{@code cpuRatio} the median over the pairs of the
     * type's rate divided by the reference's rate of the same pair (adjacent calls, so both saw the same moment of
     * a machine whose speed drifts).
     */
    record Paired(double[] rate, double[] reference, double ratio, double cpuRatio, int pairs) {
        void put(Map<String, Object> row) {
            row.put("pairedBf16Ratio", GemmBench.ratio(ratio, 1));
            row.put("pairedBf16CpuRatio", GemmBench.ratio(cpuRatio, 1));
            row.put("pairedBf16Gflops", round(reference[0]));
            row.put("pairs", pairs);
        }
    }

    static Paired pairedGemm(int m, int k, Tensor reference, Tensor w, float[] x, int pairs) {
        float[] y = new float[m * w.rows()];
        Matmul.matmul(x, Math.min(m, 192), k, w, null, y);
        Matmul.matmul(x, Math.min(m, 192), k, reference, null, y);
        return paired(2.0 * m * k * w.rows(), pairs, () -> Matmul.matmul(x, m, k, reference, null, y),
                () -> Matmul.matmul(x, m, k, w, null, y));
    }

    /** Like {@link #pairedGemm} on oneDNN, after the warm-up calls of {@link #oneDnnRate}. */
    static Paired pairedOneDnn(int m, int k, Tensor reference, Tensor w, float[] x, int pairs) {
        float[] y = new float[m * w.rows()];
        for (int i = 0; i < 4; i++) OneDnnMatmul.bf16(x, m, k, w, null, y);
        return paired(2.0 * m * k * w.rows(), pairs, () -> OneDnnMatmul.bf16(x, m, k, reference, null, y),
                () -> OneDnnMatmul.bf16(x, m, k, w, null, y));
    }

    /**
     * {@code pairs} pairs of timed calls, the reference first in even pairs and second in odd ones (so neither
     * always follows the other: a call can run slower or faster right after another kind of work).
     */
    private static Paired paired(double flops, int pairs, Runnable reference, Runnable work) {
        double[] ratios = new double[pairs], cpuRatios = new double[pairs];
        double[] rate = {0, 0}, ref = {0, 0};
        for (int i = 0; i < pairs; i++) {
            double[] a, b;
            if (i % 2 == 0) {
                a = best(flops, 1, reference);
                b = best(flops, 1, work);
            } else {
                b = best(flops, 1, work);
                a = best(flops, 1, reference);
            }
            ratios[i] = b[0] / a[0];
            cpuRatios[i] = b[1] / a[1];
            for (int j = 0; j < 2; j++) {
                rate[j] = Math.max(rate[j], b[j]);
                ref[j] = Math.max(ref[j], a[j]);
            }
        }
        return new Paired(rate, ref, median(ratios), median(cpuRatios), pairs);
    }

    static double median(double[] v) {
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        int h = s.length / 2;
        return s.length % 2 == 1 ? s[h] : (s[h - 1] + s[h]) / 2;
    }

    private static double[] best(double flops, int reps, Runnable work) {
        long wall = Long.MAX_VALUE, cpu = Long.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t = System.nanoTime(), c = CPU.getProcessCpuTime();
            work.run();
            wall = Math.min(wall, System.nanoTime() - t);
            cpu = Math.min(cpu, (CPU.getProcessCpuTime() - c) / Parallel.threads());
        }
        return new double[] {flops / wall, flops / Math.max(1, cpu)};
    }

    private static double[] attentionRate(int reps) {
        SplittableRandom rnd = new SplittableRandom(3);
        int size = ATTN_TOKENS * ATTN_HEADS * ATTN_DIM;
        float[] q = activations(size, rnd), k = activations(size, rnd), v = activations(size, rnd), out = new float[size];
        float scale = (float) (1 / Math.sqrt(ATTN_DIM));
        Attention.attention(q, k, v, 256, 256, ATTN_HEADS, ATTN_DIM, scale, null, false, out);
        // QK^T and PV: 2 * 2 * Lq * Lk * D flops per head.
        return best(4.0 * ATTN_TOKENS * ATTN_TOKENS * ATTN_HEADS * ATTN_DIM, reps,
                () -> Attention.attention(q, k, v, ATTN_TOKENS, ATTN_TOKENS, ATTN_HEADS, ATTN_DIM, scale, null, false, out));
    }

    private static double round(double g) { return Math.round(g * 10) / 10.0; }

    static float[] activations(int n, SplittableRandom rnd) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }

    /**
     * An in-memory [n, k] weight of N(0, 0.03) values (the spread of FLUX's linear weights) in {@code dt}; FP8 cast
     * as is, with no per-tensor scale, as in the common flux1-*-fp8 files, so about 37% of the e4m3 codes are
     * subnormal as there; GGUF block types as random blocks of about U(-0.1, 0.1).
     */
    static Tensor weight(DType dt, int n, int k, SplittableRandom rnd) {
        long count = (long) n * k;
        if (dt.isBlock()) {
            MemorySegment seg = Arena.ofAuto().allocate(dt.bytes(count), 64);
            Quantizer.random(dt, count / dt.blockValues(), 0.1f, rnd, seg, 0);
            return new Tensor("bench." + dt, dt, new long[] {n, k}, seg, "memory");
        }
        MemorySegment seg = Arena.ofAuto().allocate(count * dt.byteSize(), 64);
        ValueLayout.OfShort i16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        ValueLayout.OfFloat f32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < count; i++) {
            float v = (float) (rnd.nextGaussian() * 0.03);
            switch (dt) {
                case F32 -> seg.set(f32, i * 4, v);
                case F16 -> seg.set(i16, i * 2, Float.floatToFloat16(v));
                case BF16 -> seg.set(i16, i * 2, DType.floatToBf16(v));
                case F8_E4M3 -> seg.set(ValueLayout.JAVA_BYTE, i, DType.floatToFp8E4M3(v));
                case F8_E5M2 -> seg.set(ValueLayout.JAVA_BYTE, i, (byte) (Float.floatToFloat16(v) >> 8));
                default -> throw new IllegalArgumentException(dt.name());
            }
        }
        return new Tensor("bench." + dt, dt, new long[] {n, k}, seg, "memory");
    }

    /** Runs the numpy reference for one shape with {@code threads} BLAS threads; its JSON answer. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> blas(Path script, int threads, int reps, int m, int k, int n) throws IOException {
        ProcessBuilder pb = new ProcessBuilder("python3", script.toString(), "--reps", String.valueOf(reps), m + "," + k + "," + n);
        pb.environment().put("OPENBLAS_CORETYPE", "SkylakeX");
        pb.environment().put("OPENBLAS_NUM_THREADS", String.valueOf(threads));
        pb.environment().put("OMP_NUM_THREADS", String.valueOf(threads));
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        try {
            if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
                throw new IOException("exit " + (p.isAlive() ? "timeout" : p.exitValue()) + ": " + lastLine(out));
            }
        } catch (InterruptedException e) {
            p.destroy();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        Object doc = Json.parse(lastLine(out));
        if (!(doc instanceof Map<?, ?> map)) throw new IOException("unexpected output: " + lastLine(out));
        return (Map<String, Object>) map;
    }

    private static String lastLine(String s) {
        int i = s.lastIndexOf('\n');
        return i < 0 ? s : s.substring(i + 1);
    }
}
