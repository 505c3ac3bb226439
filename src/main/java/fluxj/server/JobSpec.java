package fluxj.server;

import fluxj.condition.ImageCondition;
import fluxj.condition.ImageConditioning;
import fluxj.condition.ModelInput;
import fluxj.condition.SourceImage;
import fluxj.pipeline.GenerationRequest;
import fluxj.pipeline.ModelInfo;

import java.io.IOException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a job makes: {@code count} images of {@code request} with seeds seed, seed+1, ... (as {@code generate
 * --count}) on the served model {@code model}. The seed is always fixed when the job is accepted, so a job resumed
 * after a restart makes the same images; input images are files the journal names.
 *
 * @param edit the images of an OpenAI edit, given as references: they stay references (Kontext) on a dev model
 *             and become an init image (img2img) on a schnell model (see {@link #requestFor})
 * @param finishInterrupted an image stopped by an interrupt or a skip is decoded from where it stopped and kept
 *             (AUTOMATIC1111's protocol); otherwise it is dropped, and an interrupt cancels the job
 */
record JobSpec(GenerationRequest request, int count, String model, boolean edit, boolean finishInterrupted) {
    /** BFL's img2img demo default, as {@code generate --strength}. */
    static final double DEFAULT_STRENGTH = 0.8;

    private static final SecureRandom RANDOM = new SecureRandom();

    JobSpec(GenerationRequest request, int count, String model) {
        this(request, count, model, false);
    }

    JobSpec(GenerationRequest request, int count, String model, boolean edit) {
        this(request, count, model, edit, false);
    }

    JobSpec {
        if (request.seed() == null) throw new IllegalArgumentException("a job's seed is fixed when it is accepted");
        if (count < 1) throw new IllegalArgumentException("count must be at least 1");
    }

    /** A seed as the CLI draws one when none is given: 32 random bits. */
    static long randomSeed() {
        return RANDOM.nextLong(1L << 32);
    }

    /** Width or height from {@code k}: a multiple of 16 within the limits, or {@code def} when absent. */
    static int side(Fields f, String k, int def, Limits limits) {
        Long v = f.integer(k, 16, limits.maxSide());
        if (v == null) return def;
        if (v % 16 != 0) throw ApiException.invalid(k, "must be a multiple of 16, got " + v + "; try " + Math.clamp(Math.round(v / 16.0) * 16, 16, limits.maxSide()));
        return v.intValue();
    }

    static Integer steps(Fields f, String k, Limits limits) {
        Long v = f.integer(k, 1, limits.maxSteps());
        return v == null ? null : v.intValue();
    }

    /** A seed from {@code k}; absent or -1 (A1111's "random") draws one. */
    static long seed(Fields f, String k) {
        Long v = f.integer(k, -1, Long.MAX_VALUE);
        return v == null || v == -1 ? randomSeed() : v;
    }

    /**
     * Builds the request, turning what GenerationRequest still refuses (combinations) into a 400, and checks the
     * size an input image implied against the limits.
     */
    static GenerationRequest build(GenerationRequest.Builder b, Limits limits) {
        GenerationRequest r;
        try {
            r = b.build();
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(null, e.getMessage());
        }
        if (r.width() > limits.maxSide()) throw ApiException.invalid("width", "the image implies width " + r.width() + ", more than " + limits.maxSide() + "; give a smaller width");
        if (r.height() > limits.maxSide()) throw ApiException.invalid("height", "the image implies height " + r.height() + ", more than " + limits.maxSide() + "; give a smaller height");
        return r;
    }

    /** The journal's form of this spec. */
    Map<String, Object> toJson() {
        GenerationRequest r = request;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("prompt", r.prompt());
        m.put("negative_prompt", r.negativePrompt());
        m.put("width", (long) r.width());
        m.put("height", (long) r.height());
        m.put("steps", r.steps() == null ? null : (long) r.steps());
        m.put("seed", r.seed());
        m.put("guidance", r.guidance());
        m.put("cfg_scale", r.cfgScale());
        m.put("guidance_interval", List.of(r.intervalLo(), r.intervalHi()));
        m.put("n", (long) count);
        m.put("model", model);
        if (!r.conditions().isEmpty()) m.put("conditions", r.conditions().stream().map(JobSpec::conditionJson).toList());
        if (edit) m.put("edit", true);
        if (finishInterrupted) m.put("finish_interrupted", true);
        return m;
    }

    /** {@code request} as the model {@code info} takes it: a Fill model's inpainting is Fill, an edit's images follow the model. */
    GenerationRequest requestFor(ModelInfo info) {
        List<ImageCondition> cs = new ArrayList<>();
        List<ImageCondition> given = request.conditions();
        boolean kontext = info.guidanceEmbed() && info.input() == ModelInput.LATENT;
        if (edit && !kontext && given.size() > 1) {
            throw new IllegalArgumentException(given.size() + " images need a Kontext (dev) model to be references; " + model + " takes one image (img2img)");
        }
        for (ImageCondition c : ImageConditioning.forModel(given, info.input())) {
            cs.add(switch (c) {
                case ImageCondition.Reference ref when edit && !kontext -> new ImageCondition.InitImage(ref.image(), DEFAULT_STRENGTH);
                default -> c;
            });
        }
        return request.toBuilder().conditions(cs).build();
    }

    /** This spec for a client whose protocol keeps interrupted images (A1111's). */
    JobSpec finishingInterrupted() {
        return new JobSpec(request, count, model, edit, true);
    }

    private static Map<String, Object> conditionJson(ImageCondition c) {
        Map<String, Object> m = new LinkedHashMap<>();
        switch (c) {
            case ImageCondition.InitImage i -> {
                m.put("kind", "init");
                m.put("image", i.image().name());
                m.put("strength", i.strength());
            }
            case ImageCondition.Inpaint i -> {
                m.put("kind", "inpaint");
                m.put("image", i.image().name());
                m.put("mask", i.mask().name());
                m.put("strength", i.strength());
            }
            case ImageCondition.Fill f -> {
                m.put("kind", "fill");
                m.put("image", f.image().name());
                m.put("mask", f.mask().name());
            }
            case ImageCondition.Outpaint o -> {
                m.put("kind", "outpaint");
                m.put("image", o.image().name());
                m.put("margins", List.of((long) o.left(), (long) o.top(), (long) o.right(), (long) o.bottom()));
            }
            case ImageCondition.Reference r -> {
                m.put("kind", "reference");
                m.put("image", r.image().name());
            }
            case ImageCondition.Control k -> {
                m.put("kind", "control");
                m.put("image", k.image().name());
            }
        }
        return m;
    }

    /** The conditions the journal recorded, their images read again from the files it names. */
    static List<ImageCondition> conditionsFromJson(List<?> list) throws IOException {
        List<ImageCondition> out = new ArrayList<>();
        for (Object o : list) {
            if (!(o instanceof Map<?, ?> raw)) throw new IllegalArgumentException("a condition is not a JSON object");
            @SuppressWarnings("unchecked")
            Fields f = new Fields((Map<String, Object>) raw);
            String kind = f.requiredString("kind");
            SourceImage image = SourceImage.read(Path.of(f.requiredString("image")));
            out.add(switch (kind) {
                case "init" -> new ImageCondition.InitImage(image, f.number("strength", 0, 1));
                case "inpaint" -> new ImageCondition.Inpaint(image, SourceImage.read(Path.of(f.requiredString("mask"))), f.number("strength", 0, 1));
                case "fill" -> new ImageCondition.Fill(image, SourceImage.read(Path.of(f.requiredString("mask"))));
                case "outpaint" -> {
                    List<?> mg = f.list("margins");
                    if (mg == null || mg.size() != 4) throw new IllegalArgumentException("outpaint margins must be 4 numbers");
                    int[] v = mg.stream().mapToInt(x -> ((Number) x).intValue()).toArray();
                    yield new ImageCondition.Outpaint(image, v[0], v[1], v[2], v[3]);
                }
                case "reference" -> new ImageCondition.Reference(image);
                case "control" -> new ImageCondition.Control(image);
                default -> throw new IllegalArgumentException("unknown condition kind '" + kind + "'");
            });
        }
        return out;
    }

    /**
     * Reads {@link #toJson()} back (the journal, or the native API, whose fields have the same names) with the image
     * {@code conditions} already read; without {@code width}/{@code height} the size comes from the images, else 1024.
     */
    static JobSpec fromJson(Fields f, String defaultModel, Limits limits, List<ImageCondition> conditions, boolean edit) {
        GenerationRequest.Builder b = GenerationRequest.builder(f.requiredString("prompt"))
                .negativePrompt(f.string("negative_prompt", ""))
                .steps(steps(f, "steps", limits))
                .seed(seed(f, "seed"))
                .guidance(f.number("guidance", 0, 1000))
                .conditions(conditions);
        if (f.has("width")) b.width(side(f, "width", GenerationRequest.DEFAULT_SIZE, limits));
        if (f.has("height")) b.height(side(f, "height", GenerationRequest.DEFAULT_SIZE, limits));
        Double cfg = f.number("cfg_scale", 0, 100);
        if (cfg != null) b.cfgScale(cfg);
        List<?> gi = f.list("guidance_interval");
        if (gi != null) {
            if (gi.size() != 2 || !(gi.get(0) instanceof Number lo) || !(gi.get(1) instanceof Number hi)) {
                throw ApiException.invalid("guidance_interval", "must be [LO, HI] with 0 <= LO < HI <= 1");
            }
            b.guidanceInterval(lo.doubleValue(), hi.doubleValue());
        }
        Long n = f.integer("n", 1, limits.maxImages());
        return new JobSpec(build(b, limits), n == null ? 1 : n.intValue(), f.string("model", defaultModel), edit);
    }

}
