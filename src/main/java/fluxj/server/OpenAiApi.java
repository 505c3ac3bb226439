package fluxj.server;

import fluxj.condition.ImageCondition;
import fluxj.condition.SourceImage;
import fluxj.pipeline.GenerationRequest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The OpenAI Images API as LangChain, LiteLLM, Open WebUI and the OpenAI SDKs call it: {@code POST
 * /v1/images/generations}, {@code GET /v1/models}. fluxj's own parameters ride along as top-level fields
 * ({@code seed}, {@code steps}, {@code guidance}, {@code negative_prompt}, {@code cfg_scale}); OpenAI fields
 * without a meaning here ({@code quality}, {@code style}, {@code user}, ...) are accepted and ignored. A model
 * name that is not served (such as {@code dall-e-3}) gets the current model.
 */
final class OpenAiApi {
    static final int MAX_PROMPT = 32000;
    private static final Pattern SIZE = Pattern.compile("([0-9]{1,5})x([0-9]{1,5})");
    private final FluxServer server;
    private final JobQueue queue;

    OpenAiApi(FluxServer server) {
        this.server = server;
        this.queue = server.queue();
    }

    void register() {
        server.route("POST", "/v1/images/generations", FluxServer.Api.OPENAI, false, this::generations);
        server.route("POST", "/v1/images/edits", FluxServer.Api.OPENAI, false, this::edits);
        server.route("GET", "/v1/models", FluxServer.Api.OPENAI, false, this::models);
    }

    private void models(Call c) throws IOException {
        List<Object> data = queue.models().served().stream().map(s -> (Object) Map.of("id", s.name(), "object", "model", "created", 0L, "owned_by", "fluxj")).toList();
        c.json(200, Map.of("object", "list", "data", data));
    }

    private void generations(Call c) throws IOException {
        Fields f = c.json();
        Limits limits = server.config().limits();
        String prompt = prompt(f);
        int[] size = size(f.string("size", null), limits);
        String responseFormat = choice(f, "response_format", "b64_json", "b64_json", "url");
        String format = choice(f, "output_format", "png", "png", "jpeg", "jpg", "webp");
        GenerationRequest.Builder b = builder(f, prompt, size, limits);
        JobSpec spec = new JobSpec(JobSpec.build(b, limits), count(f, limits), model(f), false);
        reply(c, server.submit(spec), prompt, responseFormat, format, size);
    }

    private static int count(Fields f, Limits limits) {
        Long n = f.integer("n", 1, limits.maxImages());
        return n == null ? 1 : n.intValue();
    }

    /** A served model by name; other names (dall-e-3, gpt-image-1) get the current model. */
    private String model(Fields f) {
        String model = queue.models().find(f.string("model", null));
        return model == null ? queue.models().current() : model;
    }

    /**
     * {@code POST /v1/images/edits}, multipart or JSON (see {@link EditBody}): the image (or several), a mask (its
     * transparent pixels are where to edit), {@code prompt} and the fields of generations, plus {@code strength}.
     * With a mask: inpainting (FLUX.1 Fill on a Fill model); with a strength: img2img; otherwise the images are
     * Kontext references on a dev model and the init image of an img2img (strength 0.8) on schnell. Without
     * {@code size} the image's own size (rounded down to multiples of 16).
     */
    private void edits(Call c) throws IOException {
        Limits limits = server.config().limits();
        EditBody body = EditBody.read(c, limits);
        Fields f = body.fields();
        String prompt = prompt(f);
        List<Multipart.Upload> images = body.images();
        Double strength = f.number("strength", 0, 1);
        if ((body.mask() != null || strength != null) && images.size() > 1) {
            throw ApiException.invalid(body.imagesField(), "with a mask or a strength give one image (several images are Kontext references)");
        }
        String responseFormat = choice(f, "response_format", "b64_json", "b64_json", "url");
        String format = choice(f, "output_format", "png", "png", "jpeg", "jpg", "webp");
        Uploads up = server.uploads();
        List<ImageCondition> conditions = new ArrayList<>();
        List<SourceImage> sources = new ArrayList<>(); // every saved input, deleted again if the request is refused
        boolean edit = body.mask() == null && strength == null;
        try {
            for (Multipart.Upload u : images) sources.add(up.save(u.field(), u.bytes()));
            double s = strength == null ? JobSpec.DEFAULT_STRENGTH : strength;
            if (body.mask() != null) {
                sources.add(up.saveOpenAiMask(body.mask().field(), body.mask().bytes()));
                conditions.add(new ImageCondition.Inpaint(sources.getFirst(), sources.getLast(), s));
            } else if (!edit) {
                conditions.add(new ImageCondition.InitImage(sources.getFirst(), s));
            } else {
                for (SourceImage src : sources) conditions.add(new ImageCondition.Reference(src));
            }
            SourceImage first = sources.getFirst();
            int[] size = f.has("size") ? size(f.string("size", null), limits)
                    : new int[]{Math.clamp(first.width() / 16 * 16, 16, limits.maxSide() / 16 * 16), Math.clamp(first.height() / 16 * 16, 16, limits.maxSide() / 16 * 16)};
            GenerationRequest.Builder b = builder(f, prompt, size, limits).conditions(conditions);
            JobSpec spec = new JobSpec(JobSpec.build(b, limits), count(f, limits), model(f), edit);
            reply(c, server.submit(spec), prompt, responseFormat, format, size);
        } catch (IllegalArgumentException e) {
            sources.forEach(up::forget);
            throw ApiException.invalid(body.mask() == null ? null : body.mask().field(), e.getMessage());
        } catch (ApiException e) {
            sources.forEach(up::forget);
            throw e;
        }
    }

    /** The request fields shared by generations and edits. */
    private static GenerationRequest.Builder builder(Fields f, String prompt, int[] size, Limits limits) {
        GenerationRequest.Builder b = GenerationRequest.builder(prompt).size(size[0], size[1])
                .negativePrompt(f.string("negative_prompt", ""))
                .steps(JobSpec.steps(f, "steps", limits))
                .seed(JobSpec.seed(f, "seed"))
                .guidance(f.number("guidance", 0, 1000));
        Double cfg = f.number("cfg_scale", 0, 100);
        if (cfg != null) b.cfgScale(cfg);
        return b;
    }

    /** Waits for the job and answers with its images as OpenAI does. */
    private void reply(Call c, Job job, String prompt, String responseFormat, String format, int[] size) throws IOException {
        awaitDone(job);
        List<Object> data = new ArrayList<>();
        for (Job.Output o : job.outputs()) {
            Map<String, Object> d = new LinkedHashMap<>();
            String file = OutputFiles.as(queue.outputDir(), o.file(), OutputFiles.format(format));
            if (responseFormat.equals("url")) d.put("url", c.baseUrl() + Job.OUTPUTS_PATH + file);
            else d.put("b64_json", Base64.getEncoder().encodeToString(Files.readAllBytes(queue.outputDir().resolve(file))));
            d.put("revised_prompt", prompt);
            data.add(d);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("created", job.created / 1000);
        out.put("data", data);
        out.put("output_format", OutputFiles.format(format));
        out.put("size", size[0] + "x" + size[1]);
        c.json(200, out);
    }

    static String prompt(Fields f) {
        String p = f.requiredString("prompt");
        if (p.length() > MAX_PROMPT) throw ApiException.invalid("prompt", "is longer than " + MAX_PROMPT + " characters");
        return p;
    }

    /** Waits for a job a synchronous endpoint submitted; a failed or cancelled job is an error reply. */
    static void awaitDone(Job job) {
        try {
            job.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiException(503, null, "the server is shutting down; job " + job.id + " stays queued");
        }
        switch (job.status()) {
            case FAILED -> throw new ApiException(500, null, "the generation failed: " + job.error());
            case CANCELLED -> {
                if (job.outputs().isEmpty()) throw new ApiException(409, null, "the job was cancelled before an image was finished");
            }
            default -> { }
        }
    }

    /** "WxH" within the limits; "auto" or none = 1024x1024 (or the largest allowed square). */
    static int[] size(String s, Limits limits) {
        int def = Math.min(GenerationRequest.DEFAULT_SIZE, limits.maxSide() / 16 * 16);
        if (s == null || s.equals("auto")) return new int[]{def, def};
        Matcher m = SIZE.matcher(s.strip().toLowerCase(Locale.ROOT));
        if (!m.matches()) throw ApiException.invalid("size", "must be WIDTHxHEIGHT (e.g. 1024x1024) or auto, got '" + s + "'");
        Fields f = new Fields(Map.of("size", m.group(1)));
        int w = JobSpec.side(f, "size", def, limits);
        f = new Fields(Map.of("size", m.group(2)));
        return new int[]{w, JobSpec.side(f, "size", def, limits)};
    }

    static String choice(Fields f, String k, String def, String... allowed) {
        String v = f.string(k, def);
        for (String a : allowed) if (a.equals(v)) return v;
        throw ApiException.invalid(k, "must be one of " + String.join(", ", allowed) + ", got '" + v + "'");
    }
}
