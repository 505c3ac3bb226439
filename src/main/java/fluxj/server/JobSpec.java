package fluxj.server;

import fluxj.pipeline.GenerationRequest;

import java.security.SecureRandom;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a job makes: {@code count} images of {@code request} with seeds seed, seed+1, ... (as {@code generate
 * --count}) on the served model {@code model}. The seed is always fixed when the job is accepted, so a job resumed
 * after a restart makes the same images.
 */
record JobSpec(GenerationRequest request, int count, String model) {
    private static final SecureRandom RANDOM = new SecureRandom();

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

    /** Builds the request, turning what GenerationRequest still refuses (combinations) into a 400. */
    static GenerationRequest build(GenerationRequest.Builder b) {
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(null, e.getMessage());
        }
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
        return m;
    }

    /** Reads {@link #toJson()} back (the journal, or the native API, whose fields have the same names). */
    static JobSpec fromJson(Fields f, String defaultModel, Limits limits) {
        GenerationRequest.Builder b = GenerationRequest.builder(f.requiredString("prompt"))
                .negativePrompt(f.string("negative_prompt", ""))
                .size(side(f, "width", GenerationRequest.DEFAULT_SIZE, limits), side(f, "height", GenerationRequest.DEFAULT_SIZE, limits))
                .steps(steps(f, "steps", limits))
                .seed(seed(f, "seed"))
                .guidance(f.number("guidance", 0, 1000));
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
        return new JobSpec(build(b), n == null ? 1 : n.intValue(), f.string("model", defaultModel));
    }
}
