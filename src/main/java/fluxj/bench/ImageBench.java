package fluxj.bench;

import fluxj.flux.FluxTransformer;
import fluxj.io.Checkpoint;
import fluxj.io.Json;
import fluxj.io.ModelKind.Layout;
import fluxj.pipeline.Latents;
import fluxj.sampling.EulerSampler;
import fluxj.sampling.Schedule;
import fluxj.tensor.DType;
import fluxj.tensor.onednn.NativeBuffer;
import fluxj.tensor.onednn.OneDnnTime;
import fluxj.text.ClipTextModel;
import fluxj.text.T5Encoder;
import fluxj.tools.RandomCheckpoint;
import fluxj.tools.RandomCheckpoint.ClipShape;
import fluxj.tools.RandomCheckpoint.FluxShape;
import fluxj.tools.RandomCheckpoint.T5Shape;
import fluxj.tools.RandomCheckpoint.VaeShape;
import fluxj.vae.AutoEncoder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * {@code fluxj bench image}: a whole FLUX.1-schnell image at full size on random weights, phase by phase as the
 * pipeline runs them: T5-XXL (BF16) and CLIP-L encode the prompt, the transformer (resident as FP8 e4m3, as
 * {@code --weight-dtype fp8} or an FP8 checkpoint leaves it: BF16's 23.8 GB does not fit beside the rest in 24 GiB)
 * takes the schnell steps, the VAE (BF16) decodes with the pipeline's default tiling. Each phase's time is given
 * against its limit, its arithmetic at the peak of the process's matmul backend ({@link Peaks}: bf16 under oneDNN,
 * f32 FMA on the Java path), and the image's total against the sum of the limits. Each step is a phase of its own,
 * and the peak is probed right before and after every phase, so each phase is also given against the limit of its
 * moment (a VM's speed drifts by more than a third within one run).
 *
 * <p>Models are built in memory one phase at a time and freed after it (T5's 9.5 GB before the transformer's 12 GB);
 * building them is not timed. The text is encoded once: it does not depend on the image size, so its phase counts
 * in every size's total. The transformer serves every size before it is freed, then the VAE decodes each latent.
 * The process is cold: the first phase of each model includes the JIT's compilation and, on oneDNN, primitive creation.
 */
@Command(name = "image", mixinStandardHelpOptions = true,
        description = "A whole FLUX.1-schnell image at full size on random weights (T5-XXL + CLIP + steps + VAE): each phase against its limit.")
public final class ImageBench implements Callable<Integer> {
    @Option(names = "--sizes", split = ",", defaultValue = "512,1024", description = "Square image sizes in pixels (default: ${DEFAULT-VALUE}).")
    int[] sizes;

    @Option(names = "--steps", defaultValue = "4", description = "Euler steps (default: ${DEFAULT-VALUE}, schnell's).")
    int steps;

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    /** The models' sizes, their weight dtypes, and the T5 length. */
    record Models(T5Shape t5, ClipShape clip, FluxShape flux, VaeShape vae, DType fluxDtype, int t5Tokens) {
        /** FLUX.1-schnell: T5-XXL BF16 at 256 tokens, CLIP-L BF16, the transformer FP8 e4m3, the VAE BF16. */
        static Models schnell() {
            return new Models(T5Shape.xxl(), ClipShape.large(), FluxShape.real(), VaeShape.flux(), DType.F8_E4M3, 256);
        }
    }

    /**
     * One phase: its wall time, the process's CPU time over the cores (the wall time it would have taken with the
     * cores to itself: a hypervisor's steal time inflates the wall time, not this), its arithmetic, the time that
     * arithmetic takes at the limit, the same at the higher of the two peak readings taken just before and just after
     * the phase (the limit of the moment: a VM's speed drifts over the minutes of a run), the machine's load, and the
     * time inside oneDNN's primitives with their arithmetic (none on the Java path).
     */
    record Phase(String name, double seconds, double cpuSeconds, double gflop, double limitSeconds, double pairedLimitSeconds,
                 CpuLoad.Interval load, OneDnnTime.Span library) {
        double fraction() { return limitSeconds / seconds; }

        double cpuFraction() { return limitSeconds / cpuSeconds; }

        /** Against the limit of its moment: the higher of the readings just before and after it. */
        double pairedFraction() { return pairedLimitSeconds / seconds; }

        /** This phase against another limit (its paired limit stays: it was read beside the phase). */
        Phase against(Peaks.Peak limit) {
            return new Phase(name, seconds, cpuSeconds, gflop, gflop / limit.cpuGflops(), pairedLimitSeconds, load, library);
        }

        /** oneDNN's own rate in this phase as a fraction of the limit's peak. */
        double libraryFraction() { return library.gflops() * limitSeconds / gflop; }

        String describe() {
            String inside = library.nanos() == 0 ? "" : String.format("; inside oneDNN %.2f s at %.1f GFLOP/s (%.3f of the peak)",
                    library.seconds(), library.gflops(), libraryFraction());
            return String.format("  %-40s %8.2f s  %9.1f GFLOP  limit %7.2f s  %.3f of the limit (%.3f per CPU time, %.3f paired); %s%s", name,
                    seconds, gflop, limitSeconds, fraction(), cpuFraction(), pairedFraction(), load.describe(), inside);
        }

        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("phase", name);
            m.put("seconds", seconds);
            m.put("gflop", gflop);
            m.put("limit_seconds", limitSeconds);
            m.put("fraction_of_limit", fraction());
            m.put("cpu_seconds_per_core", cpuSeconds);
            m.put("cpu_fraction_of_limit", cpuFraction());
            m.put("paired_limit_seconds", pairedLimitSeconds);
            m.put("paired_fraction_of_limit", pairedFraction());
            m.put("load", load.toMap());
            if (library.nanos() > 0) {
                m.put("onednn_seconds", library.seconds());
                m.put("onednn_gflops", library.gflops());
                m.put("onednn_fraction_of_limit", libraryFraction());
            }
            return m;
        }
    }

    /** One image size: its phases (the shared text phases included) and the totals. */
    record Image(int side, List<Phase> phases) {
        double seconds() { return phases.stream().mapToDouble(Phase::seconds).sum(); }

        double limitSeconds() { return phases.stream().mapToDouble(Phase::limitSeconds).sum(); }

        /** Total time over the sum of the limits (the target: at most 1.3). */
        double overLimit() { return seconds() / limitSeconds(); }

        /** The same with each phase's CPU time over the cores instead of its wall time. */
        double cpuOverLimit() { return phases.stream().mapToDouble(Phase::cpuSeconds).sum() / limitSeconds(); }

        /** Total time over the sum of the phases' paired limits (each phase against the peak read beside it). */
        double pairedOverLimit() { return seconds() / phases.stream().mapToDouble(Phase::pairedLimitSeconds).sum(); }

        Image against(Peaks.Peak limit) {
            return new Image(side, phases.stream().map(p -> p.against(limit)).toList());
        }

        double othersCpuSeconds() {
            return phases.stream().mapToDouble(p -> p.load().known() ? p.load().othersCpuSeconds() : Double.NaN).sum();
        }

        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("size", side);
            m.put("phases", phases.stream().map(Phase::toMap).toList());
            m.put("seconds", seconds());
            m.put("limit_seconds", limitSeconds());
            m.put("total_over_limit", overLimit());
            m.put("total_cpu_over_limit", cpuOverLimit());
            m.put("total_over_paired_limit", pairedOverLimit());
            m.put("others_cpu_seconds", othersCpuSeconds());
            return m;
        }
    }

    @Override
    public Integer call() {
        for (int side : sizes) {
            if (side < 16 || side % 16 != 0) throw new IllegalArgumentException("--sizes: " + side + " is not a positive multiple of 16");
        }
        if (steps < 1) throw new IllegalArgumentException("--steps must be at least 1, not " + steps);
        Peaks peaks = Peaks.get();
        Peaks.Peak limit = peaks.limit();
        if (!json) {
            peaks.describe().forEach(System.out::println);
            System.out.println("limit of every phase: its arithmetic at the " + limit.instruction() + " peak (" + Math.round(limit.cpuGflops()) + " GFLOP/s), as "
                    + peaks.limitReason());
        }
        // Probed beside every phase (each reading joins the process's highest), and each phase also compared with the
        // highest reading: a probe taken in one of the VM's slow moments must not flatter a phase run in a fast one.
        List<Image> images = run(Models.schnell(), sizes, steps, limit, () -> Peaks.probeAgain().limit(), json ? line -> {} : System.out::println);
        peaks = Peaks.get();
        Peaks.Peak highest = peaks.limit();
        images = images.stream().map(im -> im.against(highest)).toList();
        if (!json) {
            System.out.println("peaks probed before and after every phase:");
            peaks.describe().forEach(System.out::println);
            System.out.println("against the highest " + highest.instruction() + " reading (" + Math.round(highest.cpuGflops()) + " GFLOP/s per CPU time):");
            // The text phases are shared by every size: listed once.
            images.stream().flatMap(im -> im.phases().stream()).distinct().forEach(p -> System.out.println(p.describe()));
        }
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("peaks", peaks.toMap());
            doc.put("limit", limit.instruction());
            doc.put("limit_reason", peaks.limitReason());
            doc.put("transformer_weights", "FP8 e4m3 (unscaled), narrowed to bf16 per product under oneDNN");
            doc.put("images", images.stream().map(Image::toMap).toList());
            System.out.println(Json.write(doc));
        } else {
            for (Image im : images) {
                System.out.printf("%dx%d: %.1f s in all, the sum of the phases' limits %.1f s: %.2fx the limit (target <= 1.3; %.2fx per CPU time; "
                                + "%.2fx with each phase against the higher of the probes beside it); others %.1f CPU-s%n",
                        im.side(), im.side(), im.seconds(), im.limitSeconds(), im.overLimit(), im.cpuOverLimit(), im.pairedOverLimit(), im.othersCpuSeconds());
            }
        }
        return 0;
    }

    /**
     * Runs the phases for every size and returns each size's phases; {@code log} receives a line per phase as it ends.
     * Each model is built in its own arena just before its phase and freed after it. {@code probe} reads the limit's
     * peak now: it runs right before and right after every phase (one reading between two steps serves both), and
     * each step is its own phase, so a phase's paired limit is read at most a step away from its work.
     */
    static List<Image> run(Models m, int[] sides, int steps, Peaks.Peak limit, Supplier<Peaks.Peak> probe, Consumer<String> log) {
        Timer timer = new Timer(limit, probe, log);
        SplittableRandom rnd = new SplittableRandom(42);
        List<Phase> text = new ArrayList<>();
        float[] txt, vec;
        try (Arena arena = Arena.ofShared()) {
            T5Encoder t5 = T5Encoder.load(built("T5 (" + m.t5().dModel() + " wide, " + m.t5().layers() + " blocks, BF16)",
                    RandomCheckpoint.t5(m.t5(), Layout.BFL, DType.BF16), arena), null);
            int[] t5Ids = ids(rnd, m.t5Tokens(), m.t5().vocab());
            double t5Flops = new TextBench.Shape("T5", m.t5().dModel(), m.t5().heads(), m.t5().dKv(), m.t5().dFf(), m.t5().layers(), 0)
                    .blockFlops(m.t5Tokens()) * m.t5().layers();
            float[][] out = new float[1][];
            text.add(timer.after("T5 encode " + m.t5Tokens() + " tokens", t5Flops, () -> out[0] = t5.encode(t5Ids)));
            txt = out[0];
        }
        NativeBuffer.releaseAll();
        try (Arena arena = Arena.ofShared()) {
            ClipTextModel clip = ClipTextModel.load(built("CLIP (" + m.clip().width() + " wide, BF16)",
                    RandomCheckpoint.clip(m.clip(), Layout.BFL, DType.BF16), arena), null);
            int n = m.clip().positions();
            // CLIP pools at the largest id (its EOS): placed last, every position is computed, as for a long prompt.
            int[] clipIds = ids(rnd, n, m.clip().vocab() - 1);
            clipIds[n - 1] = m.clip().vocab() - 1;
            double clipFlops = Flops.clip(m.clip().width(), m.clip().mlp(), m.clip().layers(), n);
            float[][] out = new float[1][];
            text.add(timer.after("CLIP encode " + n + " tokens", clipFlops, () -> out[0] = clip.pooled(clipIds)));
            vec = out[0];
        }
        NativeBuffer.releaseAll();

        int c = m.vae().zChannels();
        Map<Integer, List<Phase>> phases = new LinkedHashMap<>();
        Map<Integer, float[]> latents = new LinkedHashMap<>();
        try (Arena arena = Arena.ofShared()) {
            FluxTransformer flux = FluxTransformer.load(built("FLUX transformer (" + m.flux().doubleBlocks() + "+" + m.flux().singleBlocks()
                    + " blocks, " + m.fluxDtype() + ")", RandomCheckpoint.flux(m.flux(), Layout.BFL, m.fluxDtype()), arena), null);
            for (int side : sides) {
                int h = side / 16, w = side / 16;
                float[] x = Latents.pack(Latents.noise(side, c, side, side), c, h, w);
                float[] timesteps = Schedule.forModel(false).timesteps(steps, h * w);
                float[] imgIds = Latents.imageIds(h, w), txtIds = Latents.textIds(m.t5Tokens());
                double flops = Flops.flux(flux.config(), h * w, m.t5Tokens()).forward(flux.config());
                List<Phase> own = phases.computeIfAbsent(side, k -> new ArrayList<>(text));
                // One Euler step at a time (the sampler's arithmetic, step by step) so a reading falls between steps.
                for (int i = 0; i < steps; i++) {
                    float[] span = {timesteps[i], timesteps[i + 1]};
                    Runnable step = () -> EulerSampler.sample(x, span, (z, t) -> flux.forward(z, h * w, imgIds, txt, m.t5Tokens(), txtIds, t, vec, 0f),
                            null, null, null);
                    String name = side + "x" + side + " step " + (i + 1) + "/" + steps;
                    own.add(i == 0 ? timer.after(name, flops, step) : timer.next(name, flops, step));
                }
                latents.put(side, x);
            }
            flux.releaseWorkspace();
        }
        NativeBuffer.releaseAll();

        try (Arena arena = Arena.ofShared()) {
            AutoEncoder ae = AutoEncoder.load(built("VAE (BF16)", RandomCheckpoint.vae(m.vae(), Layout.BFL, DType.BF16), arena), null);
            for (int side : sides) {
                int h = side / 8, w = side / 8;
                float[] z = Latents.unpack(latents.get(side), c, h / 2, w / 2);
                String how = ae.plannedDecodeFlops(h, w) > ae.decodeFlops(h, w) ? "tiled" : "untiled";
                float[][] image = new float[1][];
                phases.get(side).add(timer.after(side + "x" + side + " VAE decode (" + how + ")", ae.decodeFlops(h, w),
                        () -> image[0] = ae.decode(z, h, w)));
                if (image[0].length != 3 * side * side) throw new IllegalStateException("decode returned " + image[0].length + " values");
            }
        }
        NativeBuffer.releaseAll();
        return phases.entrySet().stream().map(e -> new Image(e.getKey(), List.copyOf(e.getValue()))).toList();
    }

    private static Checkpoint built(String what, List<RandomCheckpoint.Planned> plan, Arena arena) {
        return RandomCheckpoint.inMemory("random " + what, plan, 7, arena);
    }

    /** Times phases, reading the limit's peak before and after each (a probe is never inside a phase's time). */
    private static final class Timer {
        private final Peaks.Peak limit;
        private final Supplier<Peaks.Peak> probe;
        private final Consumer<String> log;
        private Peaks.Peak last;

        Timer(Peaks.Peak limit, Supplier<Peaks.Peak> probe, Consumer<String> log) {
            this.limit = limit;
            this.probe = probe;
            this.log = log;
        }

        /** A phase after other work (a model built): the peak is read afresh before it. */
        Phase after(String name, double flops, Runnable work) {
            last = probe.get();
            return next(name, flops, work);
        }

        /** A phase right after the previous one: the reading taken after that one is this one's reading before. */
        Phase next(String name, double flops, Runnable work) {
            Peaks.Peak before = last;
            CpuLoad.Mark mark = CpuLoad.mark();
            OneDnnTime.Span library = OneDnnTime.mark();
            long t0 = System.nanoTime(), c0 = TransformerBench.cpuNanos();
            work.run();
            double s = (System.nanoTime() - t0) / 1e9, cpu = (TransformerBench.cpuNanos() - c0) / 1e9 / Runtime.getRuntime().availableProcessors();
            CpuLoad.Interval load = CpuLoad.since(mark);
            library = OneDnnTime.mark().since(library);
            last = probe.get();
            Peaks.Peak beside = Peaks.higher(before, last);
            Phase p = new Phase(name, s, cpu, flops / 1e9, flops / 1e9 / limit.cpuGflops(), flops / 1e9 / beside.cpuGflops(), load, library);
            log.accept(p.describe());
            return p;
        }
    }

    private static int[] ids(SplittableRandom rnd, int n, int below) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = rnd.nextInt(below);
        return ids;
    }
}
