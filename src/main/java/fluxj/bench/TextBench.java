package fluxj.bench;

import fluxj.io.Checkpoint;
import fluxj.io.Json;
import fluxj.tensor.DType;
import fluxj.tensor.Matmul;
import fluxj.tensor.Ops;
import fluxj.tensor.Tensor;
import fluxj.tensor.onednn.OneDnnTime;
import fluxj.text.T5Encoder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code fluxj bench text}: T5-XXL and DistillT5 encoding time with random full-size BF16 weights. A whole
 * T5-XXL is ~9.5 GB in BF16, so ONE block is built and timed (through {@link T5Encoder}, so embedding lookup,
 * position bias and final norm are included once) and the time is multiplied by the depth. Figures are also
 * given as a fraction of the GEMM benchmark's best rate ({@link GemmBench#bestRate()}) measured in the same run.
 */
@Command(name = "text", mixinStandardHelpOptions = true,
        description = "T5-XXL / DistillT5 encoding time (random weights; one block timed, full depth projected).")
public final class TextBench implements Callable<Integer> {
    /** Rows of the random embedding table: the lookup touches only the ids' rows, so the real 32128 are not needed. */
    private static final int VOCAB = 1024;

    /** A T5 encoder's sizes; {@code projection} > 0 adds DistillT5's d_model -> p -> p head. */
    record Shape(String name, int dModel, int heads, int dKv, int dFf, int layers, int projection) {
        int inner() { return heads * dKv; }

        /** Multiply-adds x2 of one block on n tokens: q, k, v, o, wi_0, wi_1, wo, plus Q K^T and P V. */
        double blockFlops(int n) {
            return 2.0 * n * (4.0 * dModel * inner() + 3.0 * dModel * dFf) + 4.0 * n * n * inner();
        }

        double projectionFlops(int n) { return 2.0 * n * ((double) dModel * projection + (double) projection * projection); }
    }

    static final Shape T5_XXL = new Shape("T5-XXL", 4096, 64, 64, 10240, 24, 0);
    static final Shape DISTILL_T5 = new Shape("DistillT5 (T5-base + 768->4096->4096)", 768, 12, 64, 2048, 12, 4096);

    @Option(names = "--json", description = "Print one JSON document instead of text.")
    boolean json;

    @Option(names = "--tokens", split = ",", defaultValue = "256,512", description = "Sequence lengths (default: ${DEFAULT-VALUE}).")
    int[] tokens;

    @Option(names = "--reps", defaultValue = "3", description = "Timed encodes per length, the fastest kept (default: ${DEFAULT-VALUE}).")
    int reps;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (reps < 1) throw new IllegalArgumentException("--reps must be at least 1, not " + reps);
        Peaks peaks = Peaks.get();
        if (!json) peaks.describe().forEach(out::println);
        Map<String, Object> reference = gemmReference();
        double refRate = (double) reference.get("gflop_per_s");
        if (!json) {
            out.printf("reference: %s: %.1f GFLOP in %.3f s = %.1f GFLOP/s%n", reference.get("name"),
                    (double) reference.get("gflop"), (double) reference.get("seconds"), refRate);
            out.println("one block timed with random BF16 weights (the fastest of " + reps + " encodes), projected to the full depth (x blocks); "
                    + "embedding, position bias and final norm are counted once per block");
            out.flush();
        }
        List<Object> results = new ArrayList<>();
        for (Shape shape : List.of(T5_XXL, DISTILL_T5)) {
            for (Map<String, Object> r : run(shape, refRate, peaks)) {
                CpuLoad.Interval load = (CpuLoad.Interval) r.remove("load_interval");
                results.add(r);
                if (!json) {
                    out.printf("%-40s %4d tokens: one block %7.3f s -> %8.2f s projected for %d blocks%s, %7.1f GFLOP/s = %.2f x reference"
                                    + " = %.3f of the %s peak per CPU time, %.3f of its wall-clock peak (limit %.2f s)%s; %s%n",
                            shape.name(), (int) r.get("tokens"), (double) r.get("block_seconds"),
                            (double) r.get("seconds_projected"), shape.layers(),
                            shape.projection() > 0 ? String.format(" + projection %.3f s", (double) r.get("projection_seconds")) : "",
                            (double) r.get("gflop_per_s"), (double) r.get("fraction_of_reference"), (double) r.get("fraction_of_limit"),
                            r.get("limit"), (double) r.get("wall_fraction_of_limit"), (double) r.get("limit_seconds"),
                            r.containsKey("fraction_of_amx") ? String.format("; %.3f of the AMX peak (%.3f wall)",
                                    (double) r.get("fraction_of_amx"), (double) r.get("wall_fraction_of_amx")) : "",
                            load.describe());
                    if (r.containsKey("onednn_share_of_block")) {
                        out.printf("  inside oneDNN: %.0f%% of the block's time, its primitives at %.3f of the peak%n",
                                100 * (double) r.get("onednn_share_of_block"), (double) r.get("onednn_fraction_of_limit"));
                    }
                    out.flush();
                }
            }
        }
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("benchmark", "text");
            doc.put("method", "one block timed with random BF16 weights (the fastest of " + reps + " encodes), multiplied by the block count; projection timed separately");
            doc.put("reference", reference);
            doc.put("peaks", peaks.toMap());
            doc.put("results", results);
            out.println(Json.write(doc));
        }
        out.flush();
        return 0;
    }

    /**
     * Times each sequence length on one random block, after an untimed encode of the same length (the JIT's
     * compilation and, on oneDNN, the primitives for these shapes: a pipeline encodes many prompts); the fastest of
     * {@code reps} encodes of fresh ids (each a miss of the encoder's prompt cache).
     */
    private List<Map<String, Object>> run(Shape s, double refRate, Peaks peaks) {
        List<Map<String, Object>> rows = new ArrayList<>();
        try (Arena arena = Arena.ofShared()) {
            SplittableRandom rnd = new SplittableRandom(1);
            T5Encoder encoder = T5Encoder.load(Checkpoint.of(s.name() + " random block", oneBlock(arena, s, rnd)), null);
            Tensor p0 = s.projection() > 0 ? random(arena, "final_projection.0.weight", rnd, s.projection(), s.dModel()) : null;
            Tensor p3 = s.projection() > 0 ? random(arena, "final_projection.3.weight", rnd, s.projection(), s.projection()) : null;
            encoder.encode(ids(rnd, 16));
            for (int n : tokens) {
                encoder.encode(ids(rnd, n));
                CpuLoad.Mark mark = CpuLoad.mark();
                // The fastest of several encodes: one encode of one block is short, and other processes or a
                // hypervisor taking the cores for a moment would otherwise decide the row.
                double block = Double.POSITIVE_INFINITY;
                OneDnnTime.Span library = null;
                for (int i = 0; i < reps; i++) {
                    int[] fresh = ids(rnd, n);
                    OneDnnTime.Span before = OneDnnTime.mark();
                    double t = seconds(() -> encoder.encode(fresh));
                    if (t < block) {
                        block = t;
                        library = OneDnnTime.mark().since(before);
                    }
                }
                double projection = p0 == null ? 0 : seconds(() -> project(n, s, p0, p3));
                double total = block * s.layers() + projection;
                double flops = s.blockFlops(n) * s.layers() + (p0 == null ? 0 : s.projectionFlops(n));
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("model", s.name());
                r.put("tokens", n);
                r.put("blocks", s.layers());
                r.put("block_seconds", block);
                r.put("projection_seconds", projection);
                r.put("seconds_projected", total);
                r.put("gflop", flops / 1e9);
                r.put("gflop_per_s", flops / 1e9 / total);
                r.put("fraction_of_reference", flops / 1e9 / total / refRate);
                // After the run: the limit is the peak of the instruction the kernels just used.
                Peaks.Peak limit = peaks.limit(), amx = peaks.amxBeside(limit);
                double rate = flops / 1e9 / total;
                r.put("limit", limit.instruction());
                r.put("limit_reason", peaks.limitReason());
                r.put("fraction_of_limit", Peaks.fraction(rate, limit));
                r.put("wall_fraction_of_limit", Peaks.wallFraction(rate, limit));
                r.put("limit_seconds", flops / 1e9 / limit.cpuGflops());
                if (amx != null) {
                    r.put("fraction_of_amx", Peaks.fraction(rate, amx));
                    r.put("wall_fraction_of_amx", Peaks.wallFraction(rate, amx));
                }
                if (library.nanos() > 0) {
                    r.put("onednn_share_of_block", library.seconds() / block);
                    r.put("onednn_fraction_of_limit", Peaks.fraction(library.gflops(), limit));
                }
                CpuLoad.Interval load = CpuLoad.since(mark);
                r.put("load", load.toMap());
                r.put("load_interval", load);
                rows.add(r);
            }
        }
        return rows;
    }

    /** DistillT5's head on a random final hidden state: Linear, ReLU, Linear. */
    private static void project(int n, Shape s, Tensor p0, Tensor p3) {
        float[] h = new float[n * s.dModel()];
        Arrays.fill(h, 0.5f);
        float[] mid = Matmul.matmul(h, n, s.dModel(), p0, null);
        Ops.relu(mid, mid.length);
        Matmul.matmul(mid, n, s.projection(), p3, null);
    }

    /** Block 0 (with the relative position bias), the final norm and a small embedding table; no projection (timed apart). */
    private static Map<String, Tensor> oneBlock(Arena arena, Shape s, SplittableRandom rnd) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        int d = s.dModel();
        String a = "encoder.block.0.layer.0.", f = "encoder.block.0.layer.1.";
        t.put("shared.weight", random(arena, "shared.weight", rnd, VOCAB, d));
        t.put(a + "SelfAttention.relative_attention_bias.weight", random(arena, "relative_attention_bias", rnd, 32, s.heads()));
        for (String m : List.of("q", "k", "v")) t.put(a + "SelfAttention." + m + ".weight", random(arena, m, rnd, s.inner(), d));
        t.put(a + "SelfAttention.o.weight", random(arena, "o", rnd, d, s.inner()));
        t.put(a + "layer_norm.weight", ones(arena, "layer_norm.0", d));
        t.put(f + "DenseReluDense.wi_0.weight", random(arena, "wi_0", rnd, s.dFf(), d));
        t.put(f + "DenseReluDense.wi_1.weight", random(arena, "wi_1", rnd, s.dFf(), d));
        t.put(f + "DenseReluDense.wo.weight", random(arena, "wo", rnd, d, s.dFf()));
        t.put(f + "layer_norm.weight", ones(arena, "layer_norm.1", d));
        t.put("encoder.final_layer_norm.weight", ones(arena, "final_layer_norm", d));
        return t;
    }

    /** BF16 values uniform in +-1/sqrt(cols), so activations stay in a normal range. */
    private static Tensor random(Arena arena, String name, SplittableRandom rnd, int rows, int cols) {
        float a = (float) (1 / Math.sqrt(cols));
        return RandomFlux.uniform(name, DType.BF16, new long[]{rows, cols}, -a, a, rnd.nextLong(), arena);
    }

    private static Tensor ones(Arena arena, String name, int n) {
        return RandomFlux.uniform(name, DType.F32, new long[]{n}, 1f, 1f, 0, arena);
    }

    private static int[] ids(SplittableRandom rnd, int n) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = rnd.nextInt(VOCAB);
        return ids;
    }

    /** The GEMM rate the figures are compared with, described for the output. */
    private static Map<String, Object> gemmReference() {
        double gflop = 2.0 * 1024 * 3072 * 3072 / 1e9, rate = GemmBench.bestRate();
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("name", "F32 GEMM M=1024 K=3072 N=3072 (GemmBench's best rate, measured in this run)");
        r.put("gflop", gflop);
        r.put("seconds", gflop / rate);
        r.put("gflop_per_s", rate);
        return r;
    }

    private static double seconds(Runnable r) {
        long t0 = System.nanoTime();
        r.run();
        return (System.nanoTime() - t0) / 1e9;
    }
}
