package fluxj.bench;

import fluxj.tensor.DType;
import fluxj.tensor.Parallel;
import fluxj.tensor.Tensor;
import fluxj.tensor.onednn.MatmulBackend;
import fluxj.tensor.onednn.OneDnnLibrary;

import java.io.File;
import java.io.IOException;
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
 * The CPU's arithmetic peaks on all cores, measured once per process, so that every benchmark row can say what
 * fraction of the physical limit it reached. Measured by {@code scripts/peak.c} (register-only loops of f32 FMA,
 * AVX-512 bf16 dot products and AMX bf16 tile products), compiled with the system's C compiler; where there is
 * none, by the best GEMMs at hand instead (oneDNN's bf16 matmul on a large square, the Java f32 matmul), which
 * are lower bounds of the instruction peaks and say so.
 *
 * <p>The limit is each peak per CPU-second of its threads, summed over the cores: what the cores do when they run,
 * which other processes taking turns on them do not lower. The wall-clock figure of the same run is kept beside it.
 */
public record Peaks(Peak f32, Peak bf16Dot, Peak amxBf16, String method, CpuLoad.Interval load) {
    /** Seconds the probe runs each kernel (best of several runs inside). */
    private static final double PROBE_SECONDS = 1.5;
    private static final int FALLBACK_SIDE = 4096;

    /**
     * One instruction's peak: GFLOP/s by wall clock and per CPU time (the limit), or absent with the reason.
     * {@code instruction} names what was measured.
     */
    public record Peak(String instruction, double gflops, double cpuGflops, String absent) {
        static Peak missing(String why) { return new Peak(null, Double.NaN, Double.NaN, why); }

        public boolean present() { return absent == null; }

        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            if (!present()) {
                m.put("absent", absent);
                return m;
            }
            m.put("instruction", instruction);
            m.put("gflops", gflops);
            m.put("cpu_gflops", cpuGflops);
            return m;
        }
    }

    private static Peaks measured;
    private static int probes;

    /** The peaks of this machine, measured on the first call of the process (a few seconds). */
    public static synchronized Peaks get() {
        if (measured == null) {
            measured = measure();
            probes = 1;
        }
        return measured;
    }

    /**
     * Probes again and returns this probe's own readings (for a ratio paired with the work right before or after
     * it); {@link #get()} keeps, per instruction, the highest reading so far.
     */
    public static synchronized Peaks probeAgain() {
        Peaks first = get(), again = measure();
        probes++;
        String method = first.method().replaceFirst("; the highest of \\d+ probes$", "") + "; the highest of " + probes + " probes";
        measured = new Peaks(higher(first.f32(), again.f32()), higher(first.bf16Dot(), again.bf16Dot()),
                higher(first.amxBf16(), again.amxBf16()), method, again.load());
        return again;
    }

    /** The reading with the higher rate per CPU time (a present one over an absent one). */
    static Peak higher(Peak a, Peak b) {
        if (!a.present()) return b;
        if (!b.present()) return a;
        return b.cpuGflops() > a.cpuGflops() ? b : a;
    }

    /** A limit and why it is the one: which instruction the kernels run. */
    public record Limit(Peak peak, String reason) {}

    /**
     * The bf16 limit: the peak of the instruction oneDNN's kernels run in this process ({@link #bf16Limit}),
     * AMX's only where they use AMX.
     */
    public Peak bf16() {
        return bf16Limit().peak();
    }

    /** {@link #bf16()} with the reason, from the implementations oneDNN reports for its kernels so far. */
    public Limit bf16Limit() {
        return bf16Limit(OneDnnLibrary.implementations(), OneDnnLibrary.isaCap(), bf16Dot, amxBf16);
    }

    /**
     * The peak a bf16 product is bounded by, given the implementations oneDNN reports for its kernels (its
     * {@code impl_info_str}: "amx" in an AMX kernel's name, e.g. brg:avx512_core_amx_bf16, none in the AVX-512 bf16
     * dot-product kernels, brg:avx512_core_bf16): AMX's peak when a kernel uses AMX, else the bf16 dot-product
     * ({@code vdpbf16ps}) peak. With no kernel known (no oneDNN) the faster of the two, what a bf16 GEMM could use.
     * A peak that was not measured gives way to the other. {@code cap}: the ISA cap oneDNN was given, or null.
     */
    static Limit bf16Limit(List<String> impls, String cap, Peak dot, Peak amx) {
        String capped = cap == null ? "" : ", under " + cap;
        List<String> amxKernels = impls.stream().filter(i -> i.toLowerCase(java.util.Locale.ROOT).contains("amx")).toList();
        if (impls.isEmpty()) {
            Peak faster = amx.present() && (!dot.present() || amx.cpuGflops() > dot.cpuGflops()) ? amx : dot;
            return new Limit(faster, "no oneDNN kernel to go by: the faster bf16 instruction");
        }
        if (!amxKernels.isEmpty()) {
            if (amx.present()) return new Limit(amx, "oneDNN's kernels use AMX (" + String.join(", ", amxKernels) + capped + ")");
            return new Limit(dot, "oneDNN's kernels use AMX (" + String.join(", ", amxKernels) + ") but its peak is absent ("
                    + amx.absent() + "): the bf16 dot-product peak instead");
        }
        if (dot.present() || !amx.present()) {
            return new Limit(dot, "oneDNN's kernels use no AMX (" + String.join(", ", impls) + capped + "): bf16 dot products");
        }
        return new Limit(amx, "oneDNN's kernels use no AMX (" + String.join(", ", impls) + capped + ") but the bf16 dot-product peak is absent ("
                + dot.absent() + "): the AMX peak instead");
    }

    /**
     * The AMX peak, to show beside a row whose limit is another instruction, so that a fraction of a slower
     * instruction's peak is not mistaken for the CPU's bf16 limit; null where AMX was not measured or is the limit.
     */
    public Peak amxBeside(Peak limit) {
        return amxBf16.present() && limit != amxBf16 && limit != f32 ? amxBf16 : null;
    }

    /** The limit of the process's matmul backend: bf16 under oneDNN, f32 FMA on the Java path. */
    public Peak limit(boolean bf16) {
        return bf16 ? bf16() : f32;
    }

    /** The limit for the matmul backend this process runs. */
    public Peak limit() {
        return limit(MatmulBackend.current() == MatmulBackend.ONEDNN);
    }

    /** Why {@link #limit(boolean)} is the limit it is. */
    public String limitReason(boolean bf16) {
        return bf16 ? bf16Limit().reason() : "the Java path's f32 FMA";
    }

    /** Why {@link #limit()} is the limit it is. */
    public String limitReason() {
        return limitReason(MatmulBackend.current() == MatmulBackend.ONEDNN);
    }

    /** {@code gflops} as a fraction of a limit, NaN when that limit is unknown. */
    public static double fraction(double gflops, Peak limit) {
        return limit.present() ? gflops / limit.cpuGflops() : Double.NaN;
    }

    /**
     * {@code gflops} (wall clock) as a fraction of the limit's wall-clock peak measured in the same process: on a
     * machine whose hypervisor steals time from its cores, both lose about the same share, so this compares the row
     * with what the cores delivered meanwhile. NaN when the limit is unknown.
     */
    public static double wallFraction(double gflops, Peak limit) {
        return limit.present() ? gflops / limit.gflops() : Double.NaN;
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("method", method);
        m.put("f32_fma", f32.toMap());
        m.put("bf16_dot", bf16Dot.toMap());
        m.put("amx_bf16", amxBf16.toMap());
        Limit b = bf16Limit();
        m.put("bf16_limit", b.peak().present() ? b.peak().instruction() : null);
        m.put("bf16_limit_reason", b.reason());
        m.put("onednn_kernels", OneDnnLibrary.implementations());
        m.put("load", load.toMap());
        return m;
    }

    /** Lines for a report: one per peak, and how quiet the machine was. */
    public List<String> describe() {
        List<String> lines = new ArrayList<>();
        lines.add("peaks (" + method + "):");
        String[] names = {"f32 FMA", "bf16 dot product", "AMX bf16"};
        Peak[] peaks = {f32, bf16Dot, amxBf16};
        for (int i = 0; i < peaks.length; i++) {
            Peak p = peaks[i];
            lines.add(String.format("  %-17s %s", names[i], p.present()
                    ? String.format("%8.1f GFLOP/s per CPU time (the limit), %8.1f by wall clock  [%s]", p.cpuGflops(), p.gflops(), p.instruction())
                    : "absent: " + p.absent()));
        }
        Limit b = bf16Limit();
        lines.add("  bf16 limit: " + (b.peak().present() ? b.peak().instruction() : "none") + ", as " + b.reason());
        lines.add("  " + load.describe());
        return lines;
    }

    private static Peaks measure() {
        CpuLoad.Mark start = CpuLoad.mark();
        int threads = Runtime.getRuntime().availableProcessors();
        String whyNot;
        Path source = Scripts.find("peak.c");
        Path cc = compiler();
        if (source == null) whyNot = "scripts/peak.c not found";
        else if (cc == null) whyNot = "no C compiler (gcc, cc) on the PATH";
        else {
            try {
                String out = probe(cc, source, threads);
                Peaks p = parse(out, "register-only loops (scripts/peak.c, " + cc.getFileName() + "), " + threads + " threads", null);
                return new Peaks(p.f32(), p.bf16Dot(), p.amxBf16(), p.method(), CpuLoad.since(start));
            } catch (IOException e) {
                whyNot = e.getMessage();
            }
        }
        return fallback(whyNot, start);
    }

    /**
     * Parses the probe's output (lines "NAME WALL CPU DETAIL" or "NAME - REASON"); a kernel the output does not
     * mention is absent.
     */
    static Peaks parse(String out, String method, CpuLoad.Interval load) throws IOException {
        Map<String, Peak> peaks = new LinkedHashMap<>();
        for (String line : out.strip().split("\n")) {
            String[] f = line.strip().split("\\s+", 4);
            if (f.length < 2 || f[0].isEmpty()) continue;
            if (f[1].equals("-")) {
                peaks.put(f[0], Peak.missing(f.length > 2 ? line.strip().substring(line.strip().indexOf('-') + 1).strip() : "not measured"));
                continue;
            }
            if (f.length < 4) throw new IOException("peak probe: unexpected line '" + line + "'");
            try {
                peaks.put(f[0], new Peak(f[3], Double.parseDouble(f[1]), Double.parseDouble(f[2]), null));
            } catch (NumberFormatException e) {
                throw new IOException("peak probe: unexpected line '" + line + "'");
            }
        }
        if (!peaks.containsKey("f32_fma") && !peaks.containsKey("bf16_dot")) throw new IOException("peak probe printed no peak: " + out.strip());
        Peak none = Peak.missing("not measured");
        return new Peaks(peaks.getOrDefault("f32_fma", none), peaks.getOrDefault("bf16_dot", none), peaks.getOrDefault("amx_bf16", none),
                method, load);
    }

    /** The compiled probe, kept for the process: a long bench probes beside every phase (19 times for two image sizes). */
    private static Path compiled;

    /** Runs the probe, compiled on first use into a temporary folder (without AMX if the assembler lacks it) removed at exit. */
    private static String probe(Path cc, Path source, int threads) throws IOException {
        try {
            ProcessBuilder pb = new ProcessBuilder(executable(cc, source).toString(), String.valueOf(threads), String.valueOf(PROBE_SECONDS));
            pb.redirectErrorStream(true);
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(2, TimeUnit.MINUTES) || p.exitValue() != 0) throw new IOException("peak probe failed: " + out.strip());
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
    }

    private static synchronized Path executable(Path cc, Path source) throws IOException, InterruptedException {
        if (compiled != null && Files.isExecutable(compiled)) return compiled;
        Path dir = Files.createTempDirectory("fluxj-peak");
        Path exe = dir.resolve("peak");
        // Registered folder first: deleteOnExit removes in reverse order, the file before its folder.
        dir.toFile().deleteOnExit();
        exe.toFile().deleteOnExit();
        String err = run(List.of(cc.toString(), "-O2", "-pthread", source.toString(), "-o", exe.toString()));
        if (err != null) err = run(List.of(cc.toString(), "-O2", "-pthread", "-DNO_AMX", source.toString(), "-o", exe.toString()));
        if (err != null) throw new IOException(cc.getFileName() + " could not compile " + source + ": " + err);
        return compiled = exe;
    }

    /** Runs a command; null when it succeeded, else its last output line. */
    private static String run(List<String> command) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (!p.waitFor(2, TimeUnit.MINUTES)) {
            p.destroy();
            return "timed out";
        }
        if (p.exitValue() == 0) return null;
        int nl = out.lastIndexOf('\n');
        return out.isEmpty() ? "exit " + p.exitValue() : out.substring(nl + 1);
    }

    /** gcc, else cc, from the PATH. */
    static Path compiler() {
        String path = System.getenv("PATH");
        if (path == null) return null;
        for (String name : List.of("gcc", "cc")) {
            for (String dir : path.split(File.pathSeparator)) {
                if (dir.isEmpty()) continue;
                Path c = Path.of(dir, name);
                if (Files.isRegularFile(c) && Files.isExecutable(c)) return c;
            }
        }
        return null;
    }

    /** Without the probe: the Java f32 GEMM and oneDNN's bf16 GEMM on a large square, lower bounds of the peaks. */
    private static Peaks fallback(String whyNot, CpuLoad.Mark start) {
        GemmBench.Rate f32 = GemmBench.reference();
        // The reference's CPU rate is per CPU-second; the limit is for all the pool's threads.
        Peak f = new Peak("Java f32 GEMM 1024x3072x3072 (a lower bound)", f32.gflops(), f32.gflopPerCpuSecond() * Parallel.threads(), null);
        Peak bf16 = Peak.missing("no oneDNN library for the bf16 GEMM fallback");
        if (OneDnnLibrary.found() instanceof OneDnnLibrary.Loaded) {
            SplittableRandom rnd = new SplittableRandom(5);
            int n = FALLBACK_SIDE;
            Tensor w = GemmBench.weight(DType.BF16, n, n, rnd);
            double[] g = GemmBench.oneDnnRate(n, n, w, GemmBench.activations(n * n, rnd), 3);
            bf16 = new Peak("oneDNN bf16 GEMM " + n + "^3 (a lower bound)", g[0], g[1], null);
        }
        return new Peaks(f, bf16, Peak.missing("not measured without the probe"), "fallback, " + whyNot, CpuLoad.since(start));
    }
}
