package fluxj.cli;

import fluxj.condition.ConditionRecord;
import fluxj.condition.ImageConditioning;
import fluxj.condition.ModelInput;
import fluxj.image.ImageFiles;
import fluxj.lora.LoraMode;
import fluxj.lora.LoraRef;
import fluxj.lora.PromptLoras;
import fluxj.memory.ByteSize;
import fluxj.memory.Device;
import fluxj.memory.MemoryPlan;
import fluxj.memory.ProcessMemory;
import fluxj.memory.WeightDtype;
import fluxj.pipeline.FluxPipeline;
import fluxj.pipeline.GenerationRequest;
import fluxj.pipeline.GenerationResult;
import fluxj.pipeline.Infotext;
import fluxj.pipeline.ModelSource;
import fluxj.pipeline.PngFiles;
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
import java.util.List;
import java.util.concurrent.Callable;

/** {@code fluxj generate}: text (and input images) to image, written as PNG with its parameters. */
@Command(name = "generate", sortOptions = false, usageHelpAutoWidth = true, mixinStandardHelpOptions = true,
        description = {"Generate images from a text prompt (and input images: img2img, inpainting, Fill, Kontext, control) with a FLUX.1 model.",
                "Exit codes: 0 ok, 1 runtime failure (model files, I/O), 2 bad arguments, 3 launcher (no JDK 25, build failed)."})
class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "What to draw (required unless --from gives it).")
    String prompt;
    @Option(names = "--model", paramLabel = "DIR|FILE|REPO_ID", description = {"A diffusers folder, a transformer .safetensors file, or a Hugging Face repo id",
            "(found in the Hugging Face cache or downloaded into it). Default: " + ModelSource.DEFAULT_REPO + "."})
    String model;
    @Mixin
    ModelParts parts;
    @Option(names = "--width", paramLabel = "W", description = "Image width, a multiple of 16 (default " + GenerationRequest.DEFAULT_SIZE + ").")
    Integer width;
    @Option(names = "--height", paramLabel = "H", description = "Image height, a multiple of 16 (default " + GenerationRequest.DEFAULT_SIZE + ").")
    Integer height;
    @Option(names = "--steps", paramLabel = "N", description = "Euler steps (default 4 for schnell, 28 for dev).")
    Integer steps;
    @Option(names = "--seed", paramLabel = "S", description = "Noise seed, as torch.manual_seed (default: random, printed and stored in the PNG).")
    Long seed;
    @Option(names = "--guidance", paramLabel = "G", description = "Distilled guidance of dev models (default 3.5; schnell ignores it).")
    Double guidance;
    @Option(names = "--count", paramLabel = "N", description = "Number of images, with seeds S, S+1, ... (default 1).")
    Integer count;
    @Option(names = "--negative-prompt", paramLabel = "TEXT", description = "What to steer away from under true CFG (with --cfg-scale > 1; default empty).")
    String negativePrompt;
    @Option(names = "--cfg-scale", paramLabel = "C", description = "True classifier-free guidance scale; 1 = off (default). Each guided step costs a second transformer pass.")
    Double cfgScale;
    @Option(names = "--guidance-interval", paramLabel = "LO,HI", description = {"Apply true CFG only to steps starting at time t with LO < t <= HI",
            "(t from 1 = noise to 0 = image, after the resolution shift; default 0,1). Other steps make no negative pass."})
    String guidanceInterval;
    @Option(names = "--memory-budget", paramLabel = "SIZE", description = "Memory the engine may use, e.g. 16G or 512M (default: no limit).")
    String memoryBudget;
    @Option(names = "--weight-dtype", paramLabel = "stored|fp8|q8_0", description = "Hold transformer weights as stored (default), as FP8 or as GGUF Q8_0 (converted once, cached).")
    String weightDtype;
    @Option(names = "--lora", paramLabel = "FILE[:WEIGHT]", description = {"Apply a LoRA (kohya, diffusers/PEFT, OneTrainer, XLabs, ComfyUI, LyCORIS LoHa/LoKr, CLIP-L)",
            "with strength WEIGHT (default 1, negative allowed); repeatable, applied together. <lora:NAME:WEIGHT> in the prompt also works (see --lora-dir)."})
    List<String> loraArgs;
    @Option(names = "--lora-dir", paramLabel = "DIR", description = "Where <lora:NAME:WEIGHT> tags of the prompt find NAME.safetensors.")
    Path loraDir;
    @Option(names = "--lora-mode", paramLabel = "auto|merge|low-rank", description = {"How LoRAs reach float weights: merged into float32 copies, or run beside each matmul",
            "(low-rank: no copies). Default auto: merged when the copies fit the memory budget. FP8 and quantized weights always take the low-rank path."})
    String loraMode;
    @Option(names = "--output", paramLabel = "FILE.png", description = "Where to write the image (required); with --count N: FILE.png, FILE-1.png, ... FILE-(N-1).png.")
    Path output;
    @Option(names = "--overwrite", description = "Replace existing output files (refused otherwise).")
    boolean overwrite;
    @Option(names = "--quiet", description = "No progress output, only warnings and errors.")
    boolean quiet;
    @Option(names = "--from", paramLabel = "PNG", description = "Take prompt, seed, size, steps, guidance and input images from a PNG fluxj (or another tool) wrote; "
            + "options given here override them. Input images must be unchanged (their SHA-256 is recorded).")
    Path from;
    @Mixin
    ImageOptions images = new ImageOptions();

    @Override
    public Integer call() throws IOException {
        return Progress.logLevel(quiet, this::generate);
    }

    private int generate() throws IOException {
        Plan plan = plan();
        var err = spec.commandLine().getErr();
        var out = spec.commandLine().getOut();
        Progress progress = new Progress(err, System.console() != null && System.console().isTerminal(), quiet);
        plan.notes().forEach(n -> progress.warning(n));
        ModelSource source = parts.source(plan.model());
        try (FluxPipeline pipeline = FluxPipeline.open(source, progress)) {
            if (planOnly()) {
                MemoryPlan mp = pipeline.plan(pipeline.resolve(plan.request()));
                out.print(mp.render());
                out.flush();
                return mp.fits() ? 0 : 1;
            }
            if (plan.expectedHash() != null && !plan.expectedHash().equals(pipeline.model().hash())) {
                progress.warning(from + " was made with model hash " + plan.expectedHash() + ", this model's is " + pipeline.model().hash() + ": the image will differ");
            }
            GenerationRequest base = pipeline.resolve(forModel(plan.request(), pipeline.input(plan.request(), progress::warning), pipeline.model().input(), progress));
            for (int i = 0; i < plan.outputs().size(); i++) {
                GenerationRequest r = base.withSeed(base.seed() + i);
                progress.image(i, plan.outputs().size(), r.seed(), plan.request().seed() == null);
                GenerationResult result;
                try {
                    result = pipeline.generate(r, progress);
                } catch (IllegalArgumentException e) {
                    throw new IllegalStateException(e.getMessage(), e); // a failure while running, not a usage error
                }
                Path file = plan.outputs().get(i);
                if (!overwrite && Files.exists(file)) throw new CommandLine.ParameterException(spec.commandLine(), file + " appeared meanwhile; not overwriting it (use --overwrite)");
                result.writePng(file);
                if (!quiet) out.println(file);
            }
        }
        if (!quiet && ProcessMemory.peakRss() > 0) progress.line("peak memory (RSS) " + ByteSize.format(ProcessMemory.peakRss()));
        return 0;
    }

    /**
     * The request as the loaded model takes its image conditions ({@code input}: what it reads with the request's
     * LoRAs, {@code stored}: without); conditions it cannot take are a usage error.
     */
    private GenerationRequest forModel(GenerationRequest r, ModelInput input, ModelInput stored, Progress progress) {
        try {
            GenerationRequest adapted = images.forModel(r, input, progress::warning);
            ImageConditioning.check(adapted.conditions(), input, stored);
            return adapted;
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
        }
    }

    /** Whether to print the memory plan instead of generating ({@code fluxj plan}). */
    boolean planOnly() { return false; }

    /** Everything checked and settled before any model is loaded. */
    record Plan(GenerationRequest request, String model, List<Path> outputs, String expectedHash, List<String> notes) {}

    Plan plan() throws IOException {
        try {
            return makePlan();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
        }
    }

    private Plan makePlan() throws IOException {
        List<String> notes = new ArrayList<>();
        GenerationRequest.Builder b;
        String modelName = model, hash = null;
        ConditionRecord.Recorded recorded = null;
        if (from != null) {
            String text = PngFiles.readParameters(from)
                    .orElseThrow(() -> new IllegalArgumentException(from + " holds no generation parameters (no 'parameters' text chunk)"));
            Infotext info = Infotext.parse(text);
            try {
                b = info.toRequest().toBuilder();
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(from + ": " + e.getMessage());
            }
            if (model == null) {
                String stored = info.fields().get("Model");
                if (stored != null && ModelSource.looksLikeRepoId(stored)) modelName = stored;
                else if (stored != null) notes.add(from + " was made with model '" + stored + "'; pass --model to use it (using " + ModelSource.DEFAULT_REPO + ")");
            }
            hash = info.fields().get("Model hash");
            try {
                recorded = ConditionRecord.parse(info.fields());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(from + ": " + e.getMessage());
            }
        } else {
            if (prompt == null) throw new IllegalArgumentException("--prompt TEXT is required (or --from PNG to reuse an image's parameters)");
            b = GenerationRequest.builder(prompt);
        }
        if (prompt != null) b.prompt(prompt);
        if (negativePrompt != null) b.negativePrompt(negativePrompt);
        if (width != null) b.width(width);
        if (height != null) b.height(height);
        if (steps != null) b.steps(steps);
        if (seed != null) b.seed(seed);
        if (guidance != null) b.guidance(guidance);
        if (cfgScale != null) b.cfgScale(cfgScale);
        if (guidanceInterval != null) {
            double[] lh = interval(guidanceInterval);
            b.guidanceInterval(lh[0], lh[1]);
        }
        if (memoryBudget != null) b.memoryBudget(ByteSize.parse(memoryBudget));
        if (weightDtype != null) b.weightDtype(WeightDtype.parse(weightDtype));
        long budget = memoryBudget != null ? ByteSize.parse(memoryBudget) : Device.Cpu.detect().defaultBudget();
        // input images are held on the Java heap, which gets a quarter of the budget (see the launcher)
        b.conditions(images.conditions(recorded, from, Math.min(ImageFiles.MAX_PIXELS, budget / 4 / ImageOptions.BYTES_PER_INPUT_PIXEL)));
        if (loraMode != null) b.loraMode(LoraMode.parse(loraMode));
        GenerationRequest r = loras(b.build());
        if (!r.trueCfg() && negativePrompt != null) notes.add("--negative-prompt has no effect without --cfg-scale greater than 1");
        if (!r.trueCfg() && guidanceInterval != null) notes.add("--guidance-interval has no effect without --cfg-scale");
        int n = count == null ? 1 : count;
        if (n < 1 || n > 10000) throw new IllegalArgumentException("--count must be between 1 and 10000, got " + n);
        return new Plan(r, modelName, outputs(n), hash, notes);
    }

    /**
     * The request's LoRAs: the prompt's {@code <lora:NAME:WEIGHT>} tags (taken out of the prompt) and the --lora
     * files, which replace those an image given to --from was made with; every file must exist.
     */
    private GenerationRequest loras(GenerationRequest r) {
        PromptLoras.Parsed parsed = PromptLoras.parse(r.prompt());
        List<LoraRef> all = new ArrayList<>(loraArgs == null ? r.loras() : List.of());
        all.addAll(PromptLoras.resolve(parsed.tags(), loraDir));
        if (loraArgs != null) for (String a : loraArgs) all.add(LoraRef.parse(a));
        for (LoraRef l : all) {
            if (!Files.isRegularFile(l.file())) throw new IllegalArgumentException("LoRA " + l.file() + ": no such file");
        }
        if (loraDir != null && !Files.isDirectory(loraDir)) throw new IllegalArgumentException("--lora-dir " + loraDir + ": no such folder");
        return r.toBuilder().prompt(parsed.prompt()).loras(all).build();
    }

    static double[] interval(String s) {
        String[] p = s.split(",");
        try {
            if (p.length == 2) return new double[]{Double.parseDouble(p[0].strip()), Double.parseDouble(p[1].strip())};
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("--guidance-interval must be LO,HI with 0 <= LO < HI <= 1 (e.g. 0.2,0.85), got '" + s + "'");
    }

    /** FILE.png, then FILE-1.png, FILE-2.png ...; refuses existing files unless --overwrite. */
    private List<Path> outputs(int n) throws IOException {
        if (planOnly()) return List.of();
        if (output == null) throw new IllegalArgumentException("--output FILE.png is required");
        String name = output.getFileName().toString();
        if (!name.toLowerCase(java.util.Locale.ROOT).endsWith(".png")) throw new IllegalArgumentException("--output must name a .png file, got " + output);
        Path dir = output.toAbsolutePath().getParent();
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("the folder of --output does not exist: " + dir);
        String stem = name.substring(0, name.length() - 4);
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < n; i++) files.add(i == 0 ? output : output.resolveSibling(stem + "-" + i + ".png"));
        if (!overwrite) {
            for (Path f : files) {
                if (Files.exists(f)) throw new IllegalArgumentException(f + " exists; pass --overwrite to replace it, or choose another --output");
            }
        }
        return files;
    }
}
