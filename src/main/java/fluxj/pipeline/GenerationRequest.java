package fluxj.pipeline;

import fluxj.condition.ImageCondition;
import fluxj.condition.Kontext;
import fluxj.lora.LoraMode;
import fluxj.lora.LoraRef;
import fluxj.memory.WeightDtype;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What to generate. Immutable; build with {@link #builder(String)} and derive variants with the {@code with*}
 * methods. {@code steps}, {@code seed} and {@code guidance} may be null: the pipeline then picks the model's
 * default (and a random seed), and reports the values it used in {@link GenerationResult#request()}.
 *
 * @param negativePrompt  the prompt to guide away from under true classifier-free guidance ("" = unconditional)
 * @param cfgScale        true classifier-free guidance scale; 1 = off (no negative passes)
 * @param intervalLo      guidance applies to steps whose start time t satisfies lo &lt; t &lt;= hi (t in [0,1], 1 = noise)
 * @param memoryBudget    bytes of memory the engine may use for weights and activations; 0 = no limit
 * @param weightDtype     how to hold the transformer weights; null = not chosen (stored, unless the memory budget needs FP8)
 * @param conditions      the images the generation is conditioned on (none: text to image); at most one init image,
 *                        inpainting, Fill or outpainting, at most one control image, any number of references
 * @param loras           LoRA files with their strengths, applied in order (none: the model as stored)
 * @param loraMode        how LoRAs reach float weights: merged, beside the matmul, or as the memory plan allows
 */
public record GenerationRequest(String prompt, String negativePrompt, int width, int height, Integer steps, Long seed,
                                Double guidance, double cfgScale, double intervalLo, double intervalHi,
                                long memoryBudget, WeightDtype weightDtype, List<ImageCondition> conditions,
                                List<LoraRef> loras, LoraMode loraMode) {
    public static final int DEFAULT_SIZE = 1024;
    public static final double DEFAULT_GUIDANCE = 3.5;

    public GenerationRequest {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(negativePrompt, "negativePrompt");
        checkSize("width", width);
        checkSize("height", height);
        if (steps != null && (steps < 1 || steps > 1000)) throw new IllegalArgumentException("steps must be between 1 and 1000, got " + steps);
        if (guidance != null && !(guidance >= 0 && Double.isFinite(guidance))) throw new IllegalArgumentException("guidance must be a non-negative number, got " + guidance);
        if (!(cfgScale >= 0 && Double.isFinite(cfgScale))) throw new IllegalArgumentException("cfg scale must be a non-negative number, got " + cfgScale);
        if (!(intervalLo >= 0 && intervalHi <= 1 && intervalLo < intervalHi)) {
            throw new IllegalArgumentException("guidance interval must satisfy 0 <= LO < HI <= 1 (flow-matching time t, 1 = pure noise), got " + intervalLo + "," + intervalHi);
        }
        if (memoryBudget < 0) throw new IllegalArgumentException("memory budget must not be negative");
        conditions = List.copyOf(conditions);
        loras = List.copyOf(loras);
        Objects.requireNonNull(loraMode, "loraMode");
        if (conditions.stream().filter(c -> !(c instanceof ImageCondition.Reference || c instanceof ImageCondition.Control)).count() > 1) {
            throw new IllegalArgumentException("at most one of init image, inpainting, Fill and outpainting per image");
        }
        if (conditions.stream().filter(c -> c instanceof ImageCondition.Control).count() > 1) throw new IllegalArgumentException("at most one control image per image");
    }

    /**
     * The size an image condition implies when none is given: the init (or Fill, outpainted, control) image's size
     * rounded down to multiples of 16, else the first reference's preferred Kontext resolution; null without one.
     */
    static int[] impliedSize(List<ImageCondition> conditions) {
        for (ImageCondition c : conditions) {
            int[] s = switch (c) {
                case ImageCondition.InitImage i -> new int[]{i.image().width(), i.image().height()};
                case ImageCondition.Inpaint i -> new int[]{i.image().width(), i.image().height()};
                case ImageCondition.Fill f -> new int[]{f.image().width(), f.image().height()};
                case ImageCondition.Outpaint o -> new int[]{o.paddedWidth(), o.paddedHeight()};
                case ImageCondition.Control k -> new int[]{k.image().width(), k.image().height()};
                case ImageCondition.Reference r -> null;
            };
            if (s != null) {
                if (s[0] < 16 || s[1] < 16) throw new IllegalArgumentException("an input image of " + s[0] + "x" + s[1] + " is smaller than 16x16 pixels; give --width and --height");
                return new int[]{16 * (s[0] / 16), 16 * (s[1] / 16)};
            }
        }
        for (ImageCondition c : conditions) {
            if (c instanceof ImageCondition.Reference r) return Kontext.preferredSize(r.image().width(), r.image().height());
        }
        return null;
    }

    /** Width and height must be positive multiples of 16 (8x VAE downsampling, then 2x2 patches). */
    static void checkSize(String what, int v) {
        if (v >= 16 && v % 16 == 0 && v <= 16384) return;
        int near = Math.clamp(Math.round(v / 16.0f) * 16, 16, 16384);
        throw new IllegalArgumentException(what + " must be a multiple of 16 between 16 and 16384, got " + v + "; try " + what + " " + near);
    }

    public static Builder builder(String prompt) {
        return new Builder(prompt);
    }

    public Builder toBuilder() {
        Builder b = new Builder(prompt);
        b.negativePrompt = negativePrompt;
        b.width = width;
        b.height = height;
        b.steps = steps;
        b.seed = seed;
        b.guidance = guidance;
        b.cfgScale = cfgScale;
        b.intervalLo = intervalLo;
        b.intervalHi = intervalHi;
        b.memoryBudget = memoryBudget;
        b.weightDtype = weightDtype;
        b.loras = loras;
        b.loraMode = loraMode;
        b.conditions.addAll(conditions);
        b.widthGiven = b.heightGiven = true;
        return b;
    }

    public GenerationRequest withSeed(long s) {
        return toBuilder().seed(s).build();
    }

    public GenerationRequest withPrompt(String p) {
        return toBuilder().prompt(p).build();
    }

    public GenerationRequest withSize(int w, int h) {
        return toBuilder().size(w, h).build();
    }

    public GenerationRequest withSteps(int n) {
        return toBuilder().steps(n).build();
    }

    /** Whether true classifier-free guidance (with negative passes) is on. */
    public boolean trueCfg() {
        return cfgScale != 1.0;
    }

    public static final class Builder {
        private String prompt;
        private String negativePrompt = "";
        private int width = DEFAULT_SIZE, height = DEFAULT_SIZE;
        private boolean widthGiven, heightGiven;
        private Integer steps;
        private Long seed;
        private Double guidance;
        private double cfgScale = 1.0, intervalLo = 0.0, intervalHi = 1.0;
        private long memoryBudget;
        private WeightDtype weightDtype;
        private List<LoraRef> loras = List.of();
        private LoraMode loraMode = LoraMode.AUTO;
        private final List<ImageCondition> conditions = new ArrayList<>();

        private Builder(String prompt) { this.prompt = prompt; }

        public Builder prompt(String p) { prompt = p; return this; }
        public Builder negativePrompt(String p) { negativePrompt = p; return this; }
        public Builder size(int w, int h) { return width(w).height(h); }
        public Builder width(int w) { width = w; widthGiven = true; return this; }
        public Builder height(int h) { height = h; heightGiven = true; return this; }
        public Builder steps(Integer n) { steps = n; return this; }
        public Builder seed(Long s) { seed = s; return this; }
        public Builder guidance(Double g) { guidance = g; return this; }
        public Builder cfgScale(double c) { cfgScale = c; return this; }
        public Builder guidanceInterval(double lo, double hi) { intervalLo = lo; intervalHi = hi; return this; }
        public Builder memoryBudget(long bytes) { memoryBudget = bytes; return this; }
        public Builder weightDtype(WeightDtype d) { weightDtype = d; return this; }
        public Builder loras(List<LoraRef> l) { loras = List.copyOf(l); return this; }
        public Builder loraMode(LoraMode m) { loraMode = m; return this; }
        /** Replaces the image conditions. */
        public Builder conditions(List<ImageCondition> c) { conditions.clear(); conditions.addAll(c); return this; }
        /** Adds an image condition (references keep their order). */
        public Builder condition(ImageCondition c) { conditions.add(c); return this; }

        /** The request; a width or height not given comes from the image conditions (see {@link #impliedSize}), else 1024. */
        public GenerationRequest build() {
            int[] implied = widthGiven && heightGiven ? null : impliedSize(conditions);
            int w = widthGiven || implied == null ? width : implied[0], h = heightGiven || implied == null ? height : implied[1];
            return new GenerationRequest(prompt, negativePrompt, w, h, steps, seed, guidance, cfgScale,
                    intervalLo, intervalHi, memoryBudget, weightDtype, conditions, loras, loraMode);
        }
    }
}
