package fluxj.cli;

import fluxj.batch.BatchRunner;
import fluxj.batch.DirectoryStore;
import fluxj.batch.Inputs;
import fluxj.batch.Manifest;
import fluxj.batch.ResultsLog;
import fluxj.batch.RowResult;
import fluxj.batch.Shard;
import fluxj.image.ImageFiles;
import fluxj.lora.LoraMode;
import fluxj.memory.ByteSize;
import fluxj.memory.Device;
import fluxj.memory.WeightDtype;
import fluxj.pipeline.FluxPipeline;
import fluxj.pipeline.GenerationRequest;
import fluxj.pipeline.ModelSource;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.UnaryOperator;

/** {@code fluxj batch}: every row of a manifest (or of one shard of it) to a PNG, with the model loaded once. */
@Command(name = "batch", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
        description = {"Generate one image per row of a JSON Lines or CSV manifest, resumably: rows whose image exists are skipped.",
                "Exit codes: 0 every row done, 1 some rows failed or were refused (see the results file), 2 bad arguments or an unreadable manifest."})
final class BatchCommand implements Callable<Integer> {
    static final String JOB_INDEX = "JOB_COMPLETION_INDEX";

    @Spec
    CommandSpec spec;

    @Option(names = "--manifest", required = true, paramLabel = "FILE", description = {"Rows to generate: .jsonl (one JSON object per line) or .csv (a header row naming the columns).",
            "Fields: id, prompt, negative_prompt, seed, width, height, steps, guidance, cfg_scale, guidance_interval,",
            "init_image, strength, mask, outpaint, ref_images, control_image, loras (file names relative to the manifest's folder)."})
    Path manifest;
    @Option(names = "--output-dir", required = true, paramLabel = "DIR", description = "Where the images go, as ID.png (created when missing).")
    Path outputDir;
    @Option(names = "--shard", paramLabel = "I/N", description = "Take only the rows whose index (0-based, in manifest order) mod N is I.")
    String shard;
    @Option(names = "--shards", paramLabel = "N", description = "Take shard $" + JOB_INDEX + "/N (the index a Kubernetes Indexed Job gives each pod).")
    Integer shards;
    @Option(names = "--results", paramLabel = "FILE", description = "The results file, JSON Lines, appended to (default DIR/results.jsonl, DIR/results-I-of-N.jsonl for a shard).")
    Path results;
    @Option(names = "--model", paramLabel = "DIR|FILE|REPO_ID", description = {"A diffusers folder, a transformer .safetensors or .gguf file, or a Hugging Face repo id",
            "(found in the Hugging Face cache or downloaded into it). Default: " + ModelSource.DEFAULT_REPO + "."})
    String model;
    @Mixin
    ModelParts parts;
    @Option(names = "--memory-budget", paramLabel = "SIZE", description = "Memory the engine may use, e.g. 16G or 512M (default: no limit).")
    String memoryBudget;
    @Option(names = "--weight-dtype", paramLabel = "stored|fp8|q8_0", description = "Hold transformer weights as stored (default), as FP8 or as a cached Q8_0 GGUF, as for generate.")
    String weightDtype;
    @Option(names = "--lora-dir", paramLabel = "DIR", description = "Where <lora:NAME:WEIGHT> tags of the prompts find NAME.safetensors.")
    Path loraDir;
    @Option(names = "--lora-mode", paramLabel = "auto|merge|low-rank", description = "How LoRAs reach float weights, as for generate (default auto).")
    String loraMode;
    @Option(names = "--check", description = "Only check the manifest: report bad rows, load no model, write nothing.")
    boolean check;
    @Option(names = "--quiet", description = "No progress output, only warnings, errors and the summary.")
    boolean quiet;

    @Override
    public Integer call() throws IOException {
        return Progress.logLevel(quiet, this::run);
    }

    private int run() throws IOException {
        Shard part = shard();
        UnaryOperator<GenerationRequest> settings = settings();
        Manifest m;
        try {
            m = Manifest.read(manifest);
        } catch (Manifest.ManifestException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        List<Manifest.Entry> entries = m.entries(part);
        Progress progress = new Progress(spec.commandLine().getErr(), System.console() != null && System.console().isTerminal(), quiet);
        if (check) return check(m, entries, progress);

        Files.createDirectories(outputDir);
        Path resultsFile = results != null ? results : outputDir.resolve(part.whole() ? "results.jsonl" : "results-" + part.index() + "-of-" + part.count() + ".jsonl");
        DirectoryStore store = new DirectoryStore(outputDir);
        Set<String> names = new HashSet<>();
        for (Manifest.Entry e : entries) if (e instanceof Manifest.Row r) names.add(r.fileName());
        store.removeLeftovers(names);

        FluxPipeline[] opened = new FluxPipeline[1];
        BatchRunner runner = new BatchRunner(() -> {
            if (opened[0] == null) opened[0] = FluxPipeline.open(parts.source(model), progress);
            return opened[0];
        }, store, settings, new Inputs(manifest.toAbsolutePath().getParent(), maxInputPixels(), loraDir));
        Map<RowResult.Status, Integer> counts = new EnumMap<>(RowResult.Status.class);
        long start = System.nanoTime();
        // Refused rows first, so they show at once rather than after hours of images.
        List<Manifest.Entry> ordered = new ArrayList<>(entries.stream().filter(e -> e instanceof Manifest.Invalid).toList());
        ordered.addAll(entries.stream().filter(e -> e instanceof Manifest.Row).toList());
        int rows = names.size(), row = 0;
        try (ResultsLog log = new ResultsLog(resultsFile)) {
            for (Manifest.Entry e : ordered) {
                if (e instanceof Manifest.Row r) progress.image(row++, rows, r.request().seed(), false);
                RowResult r = runner.run(e, progress);
                log.add(r);
                counts.merge(r.status(), 1, Integer::sum);
                report(m, e, r, progress);
            }
        } finally {
            if (opened[0] != null) opened[0].close();
        }
        int generated = counts.getOrDefault(RowResult.Status.GENERATED, 0);
        double secs = (System.nanoTime() - start) / 1e9;
        progress.line(String.format(Locale.ROOT, "%s%d rows: %d generated, %d skipped (already there), %d failed, %d invalid in %.1f s%s; results in %s",
                part.whole() ? "" : "shard " + part + ": ", entries.size(), generated, counts.getOrDefault(RowResult.Status.SKIPPED, 0),
                counts.getOrDefault(RowResult.Status.FAILED, 0), counts.getOrDefault(RowResult.Status.INVALID, 0), secs,
                generated > 0 ? String.format(Locale.ROOT, " (%.1f images/min)", generated * 60 / secs) : "", resultsFile));
        return counts.getOrDefault(RowResult.Status.FAILED, 0) + counts.getOrDefault(RowResult.Status.INVALID, 0) == 0 ? 0 : 1;
    }

    private void report(Manifest m, Manifest.Entry e, RowResult r, Progress progress) {
        switch (r.status()) {
            case INVALID -> progress.warning(m.source() + " line " + e.line() + ": " + r.error());
            case FAILED -> progress.warning(m.source() + " line " + e.line() + " (" + r.id() + "): " + r.error());
            case GENERATED -> {
                if (!quiet) spec.commandLine().getOut().println(r.file());
            }
            case SKIPPED -> progress.message(r.id() + ": " + r.file() + " exists, skipped");
        }
    }

    private int check(Manifest m, List<Manifest.Entry> entries, Progress progress) {
        int bad = 0;
        for (Manifest.Entry e : entries) {
            if (e instanceof Manifest.Invalid i) {
                progress.warning(m.source() + " line " + i.line() + ": " + i.error());
                bad++;
            }
        }
        progress.line(entries.size() + " rows, " + (entries.size() - bad) + " valid, " + bad + " invalid");
        return bad == 0 ? 0 : 1;
    }

    private Shard shard() {
        try {
            if (shard != null && shards != null) throw new IllegalArgumentException("give --shard I/N or --shards N, not both");
            if (shard != null) return Shard.parse(shard);
            if (shards == null) return Shard.ALL;
            String index = System.getenv(JOB_INDEX);
            if (index == null) throw new IllegalArgumentException("--shards N takes the shard index from $" + JOB_INDEX + ", which is not set (or use --shard I/N)");
            return Shard.ofJobIndex(index, shards, JOB_INDEX);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
        }
    }

    /** As generate: input images are held on the Java heap, which gets a quarter of the budget (see the launcher). */
    private long maxInputPixels() {
        long budget = memoryBudget != null ? ByteSize.parse(memoryBudget) : Device.Cpu.detect().defaultBudget();
        return Math.min(ImageFiles.MAX_PIXELS, budget / 4 / ImageOptions.BYTES_PER_INPUT_PIXEL);
    }

    private UnaryOperator<GenerationRequest> settings() {
        try {
            long budget = memoryBudget == null ? 0 : ByteSize.parse(memoryBudget);
            WeightDtype dtype = weightDtype == null ? null : WeightDtype.parse(weightDtype);
            LoraMode mode = loraMode == null ? LoraMode.AUTO : LoraMode.parse(loraMode);
            if (loraDir != null && !Files.isDirectory(loraDir)) throw new IllegalArgumentException("--lora-dir " + loraDir + ": no such folder");
            return r -> r.toBuilder().memoryBudget(budget).weightDtype(dtype).loraMode(mode).build();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
        }
    }
}
