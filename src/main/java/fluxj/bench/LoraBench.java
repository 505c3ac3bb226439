package fluxj.bench;

import fluxj.flux.FluxConfig;
import fluxj.flux.FluxTransformer;
import fluxj.flux.Linear;
import fluxj.flux.WeightPatcher;
import fluxj.io.Checkpoint;
import fluxj.io.Json;
import fluxj.io.SafeTensorsWriter;
import fluxj.io.TensorSpec;
import fluxj.lora.LoraRef;
import fluxj.lora.LoraSet;
import fluxj.tensor.DType;
import fluxj.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code fluxj bench lora}: what a rank-r LoRA on every linear layer costs on a full-width FLUX.1 (random weights,
 * one double and one single block, projected to 19 + 38 as {@code bench transformer} does). Load: reading and
 * checking the LoRA file of the full model (written once to a temporary file, then deleted), merging it into
 * float32 copies of BF16 weights, and building the low-rank path on Q8_0 weights. Step: each model's projected
 * step at the given size, as a ratio to the same weights without the LoRA, timed in the same run (also on the
 * process's CPU time, which stays meaningful when other processes share the cores). The other processes' CPU time
 * during the load and the step phases is printed, to tell a quiet run from a loaded one.
 */
@Command(name = "lora", mixinStandardHelpOptions = true,
        description = "LoRA load time and step time (full-width FLUX.1 blocks, random BF16 and Q8_0 weights, a LoRA on every linear layer).")
public final class LoraBench implements Callable<Integer> {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    @Option(names = "--rank", defaultValue = "64", description = "LoRA rank (default: ${DEFAULT-VALUE}).")
    int rank;

    @Option(names = "--size", defaultValue = "512", description = "Square image size for the step time (default: ${DEFAULT-VALUE}).")
    int size;

    @Override
    public Integer call() throws IOException {
        if (rank < 1) throw new IllegalArgumentException("--rank must be positive");
        if (size < 16 || size % 16 != 0) throw new IllegalArgumentException("--size must be a positive multiple of 16");
        int h = TransformerBench.HIDDEN;
        FluxConfig c = new FluxConfig(h, TransformerBench.HEADS, 1, 1, TransformerBench.MLP, TransformerBench.CHANNELS, TransformerBench.CHANNELS,
                TransformerBench.CONTEXT, TransformerBench.VEC, false, true, new int[] {16, 56, 56}, 10000);
        Map<String, Object> out = new LinkedHashMap<>();
        Path file = Files.createTempFile("fluxj-lora-bench-", ".safetensors");
        try (Arena weights = Arena.ofShared()) {
            Checkpoint bf16 = RandomFlux.build(c, DType.BF16, 7, weights);
            Checkpoint q8 = q8Copy(bf16, weights);
            FluxTransformer plain = FluxTransformer.load(bf16, null);
            Map<String, FluxTransformer.Shape> full = fullSize(plain.linears());
            CpuLoad.Mark loadMark = CpuLoad.mark();
            long t0 = System.nanoTime();
            long bytes = writeLora(file, full);
            double write = (System.nanoTime() - t0) / 1e9;
            t0 = System.nanoTime();
            try (LoraSet set = LoraSet.open(List.of(new LoraRef(file, 0.8)), new LoraSet.Model(full, plain.vectors(), Map.of()), w -> {});
                 Arena copies = Arena.ofShared()) {
                double open = (System.nanoTime() - t0) / 1e9;
                out.put("rank", rank);
                out.put("lora_file_bytes", bytes);
                out.put("lora_write_s", round(write));
                out.put("lora_read_and_check_s", round(open));
                if (!json) {
                    System.out.printf("rank-%d LoRA on every linear layer of FLUX.1 (19 + 38 blocks): %.0f MB (BF16 factors), written in %.1f s, "
                            + "read and checked (shapes, ranks, every value finite) in %.2f s%n", rank, bytes / 1e6, write, open);
                }
                Timed merge = new Timed(set.transformerPatcher(copies, true));
                FluxTransformer merged = FluxTransformer.load(bf16, null, merge);
                Timed lowRank = new Timed(set.transformerPatcher(copies, false));
                FluxTransformer lowRankBf16 = FluxTransformer.load(bf16, null, lowRank);
                FluxTransformer plainQ8 = FluxTransformer.load(q8, null);
                Timed lowRankQ = new Timed(set.transformerPatcher(copies, true));
                FluxTransformer lowRankQ8 = FluxTransformer.load(q8, null, lowRankQ);
                out.put("load", List.of(merge.report("BF16 merged into float32 copies"), lowRank.report("BF16 low-rank path"),
                        lowRankQ.report("Q8_0 low-rank path")));
                out.put("load_cpu_load", load("load", CpuLoad.since(loadMark)));

                CpuLoad.Mark stepMark = CpuLoad.mark();
                Step base = step(plain), q8base = step(plainQ8);
                List<Object> steps = new ArrayList<>();
                steps.add(base.report("BF16 without LoRA", base, !json));
                steps.add(step(merged).report("BF16 + LoRA merged", base, !json));
                steps.add(step(lowRankBf16).report("BF16 + LoRA low-rank", base, !json));
                steps.add(q8base.report("Q8_0 without LoRA", q8base, !json));
                steps.add(step(lowRankQ8).report("Q8_0 + LoRA low-rank", q8base, !json));
                out.put("step_size", size);
                out.put("steps", steps);
                out.put("steps_cpu_load", load("steps", CpuLoad.since(stepMark)));
            }
        } finally {
            Files.deleteIfExists(file);
        }
        if (json) System.out.println(Json.write(out));
        return 0;
    }

    /** How busy the other processes kept the cores during a phase: its wall times are worth what this says. */
    private Map<String, Object> load(String phase, CpuLoad.Interval i) {
        if (!json) System.out.println("machine during the " + phase + ": " + i.describe());
        return i.toMap();
    }

    /** Times a patcher's work by part of the model, projected to 19 double and 38 single blocks. */
    private final class Timed implements WeightPatcher {
        private final WeightPatcher inner;
        private long doubleNanos, singleNanos, otherNanos, cpuNanos;

        Timed(WeightPatcher inner) { this.inner = inner; }

        @Override
        public Linear.Part linear(String module, int row, Linear.Part part) {
            long t = System.nanoTime(), c = cpuNanos();
            Linear.Part p = inner.linear(module, row, part);
            long d = System.nanoTime() - t;
            cpuNanos += cpuNanos() - c;
            if (module.startsWith("double_blocks.")) doubleNanos += d;
            else if (module.startsWith("single_blocks.")) singleNanos += d;
            else otherNanos += d;
            return p;
        }

        Map<String, Object> report(String what) {
            double dbl = doubleNanos / 1e9, sgl = singleNanos / 1e9, other = otherNanos / 1e9;
            double projected = TransformerBench.FULL_DOUBLE * dbl + TransformerBench.FULL_SINGLE * sgl + other;
            double cpu = cpuNanos / 1e9, wall = dbl + sgl + other;
            if (!json) System.out.printf("load, %s: double block %.3f s, single block %.3f s, embedders + final %.3f s; 19+38 projected %.2f s"
                    + " (%.2f CPU-seconds per wall second)%n", what, dbl, sgl, other, projected, wall > 0 ? cpu / wall : 0);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("what", what);
            m.put("double_block_s", round(dbl));
            m.put("single_block_s", round(sgl));
            m.put("other_s", round(other));
            m.put("projected_s", round(projected));
            m.put("cpu_s", round(cpu));
            return m;
        }
    }

    /** One timed forward (after a warm-up one) at {@code size}, projected to 19 + 38 blocks. */
    private record Step(double dbl, double sgl, double rest, double cpu) {
        double projected() { return TransformerBench.FULL_DOUBLE * dbl + TransformerBench.FULL_SINGLE * sgl + rest; }

        Map<String, Object> report(String what, Step base, boolean print) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("what", what);
            m.put("double_block_s", round(dbl));
            m.put("single_block_s", round(sgl));
            m.put("projected_step_s", round(projected()));
            m.put("ratio_to_without_lora", round(projected() / base.projected()));
            m.put("forward_cpu_s", round(cpu));
            m.put("cpu_ratio_to_without_lora", round(cpu / base.cpu));
            if (print) System.out.printf(java.util.Locale.ROOT, "step, %s: double block %.2f s, single block %.2f s; 19+38 projected %.1f s = %.3f x without the LoRA"
                    + " (CPU time of the 1+1 block forward: %.3f x)%n", what, dbl, sgl, projected(), projected() / base.projected(), cpu / base.cpu);
            return m;
        }
    }

    private Step step(FluxTransformer t) {
        int grid = size / 16, imgLen = grid * grid, txt = TransformerBench.TXT;
        float[] ids = new float[imgLen * 3];
        for (int i = 0; i < imgLen; i++) {
            ids[3 * i + 1] = i / grid;
            ids[3 * i + 2] = i % grid;
        }
        float[] img = noise(imgLen * TransformerBench.CHANNELS, 1), emb = noise(txt * TransformerBench.CONTEXT, 2), vec = noise(TransformerBench.VEC, 3);
        t.forwardTimed(img, imgLen, ids, emb, txt, new float[txt * 3], 0.5f, vec, 0f);
        long c0 = cpuNanos();
        FluxTransformer.Timed r = t.forwardTimed(img, imgLen, ids, emb, txt, new float[txt * 3], 0.5f, vec, 0f);
        double cpu = (cpuNanos() - c0) / 1e9;
        t.releaseWorkspace();
        return new Step(r.doubleNanos()[0] / 1e9, r.singleNanos()[0] / 1e9, (r.embedNanos() + r.finalNanos()) / 1e9, cpu);
    }

    /** The linear layers of the 19 + 38 block model, from the 1 + 1 block model's. */
    private static Map<String, FluxTransformer.Shape> fullSize(Map<String, FluxTransformer.Shape> oneOfEach) {
        Map<String, FluxTransformer.Shape> full = new LinkedHashMap<>();
        oneOfEach.forEach((m, s) -> {
            if (m.startsWith("double_blocks.0.")) {
                for (int i = 0; i < TransformerBench.FULL_DOUBLE; i++) full.put("double_blocks." + i + m.substring("double_blocks.0".length()), s);
            } else if (m.startsWith("single_blocks.0.")) {
                for (int i = 0; i < TransformerBench.FULL_SINGLE; i++) full.put("single_blocks." + i + m.substring("single_blocks.0".length()), s);
            } else {
                full.put(m, s);
            }
        });
        return full;
    }

    /** A kohya LoRA (BF16 factors, alpha = rank) on every layer of {@code layers}; returns the file's size. */
    private long writeLora(Path file, Map<String, FluxTransformer.Shape> layers) throws IOException {
        List<TensorSpec> specs = new ArrayList<>();
        layers.forEach((m, s) -> {
            String k = "lora_unet_" + m.replace('.', '_');
            specs.add(new TensorSpec(k + ".lora_down.weight", DType.BF16, new long[] {rank, s.in()}));
            specs.add(new TensorSpec(k + ".lora_up.weight", DType.BF16, new long[] {s.out(), rank}));
            specs.add(new TensorSpec(k + ".alpha", DType.BF16, new long[] {}));
        });
        SafeTensorsWriter.write(file, Map.of("ss_network_dim", String.valueOf(rank)), specs, (spec, seg) -> {
            if (spec.rank() == 0) {
                seg.set(I16, 0, DType.floatToBf16(rank));
                return;
            }
            float a = (float) (0.5 / Math.sqrt(spec.shape()[1]));
            SplittableRandom rnd = new SplittableRandom(spec.name().hashCode());
            for (long i = 0; i < spec.numel(); i++) seg.set(I16, 2 * i, DType.floatToBf16((float) (rnd.nextDouble() * 2 - 1) * a));
        });
        return Files.size(file);
    }

    /**
     * The model with its block matrices as Q8_0 (city96's layout: embedders and final layer stay BF16), quantized
     * with ggml's reference rounding: per block of 32, d = max|x| / 127 (as f16), q = round(x / d).
     */
    private static Checkpoint q8Copy(Checkpoint ck, Arena arena) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        ck.tensors().forEach((name, t) -> {
            boolean quantize = t.rank() == 2 && (name.startsWith("double_blocks.") || name.startsWith("single_blocks."));
            out.put(name, quantize ? q8(t, arena) : t);
        });
        return Checkpoint.of(ck.description() + ", blocks Q8_0", out);
    }

    private static Tensor q8(Tensor t, Arena arena) {
        long n = t.numel(), blocks = n / 32;
        MemorySegment seg = arena.allocate(blocks * 34, 8);
        fluxj.tensor.Parallel.forEach((int) Math.min(blocks, 1024), ch -> {
            for (long b = blocks * ch / Math.min(blocks, 1024), end = blocks * (ch + 1) / Math.min(blocks, 1024); b < end; b++) {
                float amax = 0;
                for (int e = 0; e < 32; e++) amax = Math.max(amax, Math.abs(t.get(b * 32 + e)));
                float d = amax / 127, inv = d == 0 ? 0 : 1 / d;
                seg.set(I16, b * 34, Float.floatToFloat16(d));
                for (int e = 0; e < 32; e++) seg.set(ValueLayout.JAVA_BYTE, b * 34 + 2 + e, (byte) roundAway(t.get(b * 32 + e) * inv));
            }
        });
        return new Tensor(t.name(), DType.Q8_0, t.shape(), seg, "random Q8_0");
    }

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** C's roundf: halves away from zero. */
    private static int roundAway(float v) { return (int) Math.copySign(Math.floor(Math.abs(v) + 0.5f), v); }

    private static float[] noise(int n, int seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    private static double round(double v) { return Math.round(v * 1000) / 1000.0; }
}
