package fluxj.server;

import fluxj.condition.ImageCondition;
import fluxj.condition.SourceImage;
import fluxj.pipeline.GenerationRequest;
import fluxj.pipeline.Infotext;

import java.io.IOException;
import java.nio.file.Files;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The AUTOMATIC1111 / Forge web UI API ({@code /sdapi/v1}) in the shapes its clients parse (SillyTavern, Open
 * WebUI, scripts): {@code txt2img} answers {@code images} (base64 PNGs with their parameters), {@code parameters}
 * and {@code info} (a JSON string with the seeds and infotexts). As in Forge for FLUX, {@code cfg_scale} is true
 * classifier-free guidance (1 = off) and {@code distilled_cfg_scale} the distilled guidance. Samplers and
 * schedulers other than FLUX's Euler are accepted and run as Euler (the info says so). As in A1111, {@code interrupt}
 * and {@code skip} finish the current image from the step under way (the clean estimate at that step) and the
 * request answers with it.
 */
final class A1111Api {
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMddHHmmss").withZone(ZoneOffset.UTC);
    private final FluxServer server;
    private final JobQueue queue;
    /** The format of the images in replies, A1111's {@code samples_format} option: png, jpeg or webp. */
    private volatile String samplesFormat = "png";

    A1111Api(FluxServer server) {
        this.server = server;
        this.queue = server.queue();
    }

    void register() {
        String p = "/sdapi/v1/";
        FluxServer.Api a = FluxServer.Api.A1111;
        server.route("POST", p + "txt2img", a, false, this::txt2img);
        server.route("POST", p + "img2img", a, false, this::img2img);
        server.route("GET", p + "progress", a, false, this::progress);
        server.route("POST", p + "interrupt", a, false, c -> {
            queue.interrupt();
            c.json(200, Map.of());
        });
        server.route("POST", p + "skip", a, false, c -> {
            queue.skip();
            c.json(200, Map.of());
        });
        server.route("GET", p + "options", a, false, this::options);
        server.route("POST", p + "options", a, false, this::setOptions);
        server.route("GET", p + "sd-models", a, false, this::sdModels);
        server.route("GET", p + "samplers", a, false, c -> c.json(200, List.of(Map.of("name", "Euler", "aliases", List.of("k_euler", "euler"), "options", Map.of()))));
        server.route("GET", p + "schedulers", a, false, c -> c.json(200, List.of(scheduler())));
        server.route("GET", p + "upscalers", a, false, c -> c.json(200, List.of(upscalerNone())));
        server.route("GET", p + "sd-vae", a, false, c -> c.json(200, List.of()));
        server.route("GET", p + "sd-modules", a, false, c -> c.json(200, List.of()));
        server.route("GET", p + "latent-upscale-modes", a, false, c -> c.json(200, List.of()));
    }

    private static Map<String, Object> scheduler() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", "simple");
        m.put("label", "Simple");
        m.put("aliases", null);
        m.put("default_rho", -1.0);
        m.put("need_inner_model", false);
        return m;
    }

    private static Map<String, Object> upscalerNone() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", "None");
        m.put("model_name", null);
        m.put("model_path", null);
        m.put("model_url", null);
        m.put("scale", 4.0);
        return m;
    }

    /**
     * The request of a txt2img or img2img body, and how many images. Without width and height txt2img makes
     * 512x512 as A1111 does, img2img the init image's size.
     */
    private JobSpec spec(Fields f, List<ImageCondition> conditions) {
        Limits limits = server.config().limits();
        String prompt = f.string("prompt", "");
        if (prompt.length() > OpenAiApi.MAX_PROMPT) throw ApiException.invalid("prompt", "is longer than " + OpenAiApi.MAX_PROMPT + " characters");
        GenerationRequest.Builder b = GenerationRequest.builder(prompt)
                .negativePrompt(f.string("negative_prompt", ""))
                .conditions(conditions)
                .steps(JobSpec.steps(f, "steps", limits))
                .seed(JobSpec.seed(f, "seed"))
                .guidance(f.number("distilled_cfg_scale", 0, 1000));
        if (conditions.isEmpty() || f.has("width")) b.width(JobSpec.side(f, "width", 512, limits));
        if (conditions.isEmpty() || f.has("height")) b.height(JobSpec.side(f, "height", 512, limits));
        Double cfg = f.number("cfg_scale", 0, 100);
        if (cfg != null) b.cfgScale(cfg);
        long batch = orOne(f.integer("batch_size", 1, limits.maxImages())), iter = orOne(f.integer("n_iter", 1, limits.maxImages()));
        if (batch * iter > limits.maxImages()) throw ApiException.invalid("n_iter", "batch_size x n_iter = " + batch * iter + " images; at most " + limits.maxImages() + " per request");
        String ckpt = f.object("override_settings").string("sd_model_checkpoint", null);
        String model = ckpt == null ? queue.models().current() : queue.models().require(ckpt, "override_settings.sd_model_checkpoint");
        return new JobSpec(JobSpec.build(b, limits), (int) (batch * iter), model, false, true);
    }

    private static long orOne(Long v) {
        return v == null ? 1 : v;
    }

    private void txt2img(Call c) throws IOException {
        Fields f = c.json();
        reply(c, f, server.submit(spec(f, List.of())));
    }

    /**
     * img2img: {@code init_images} (one base64 image), {@code denoising_strength} (default 0.75, as A1111), and with
     * {@code mask} (white = repaint) inpainting, or FLUX.1 Fill on a Fill model.
     */
    private void img2img(Call c) throws IOException {
        Fields f = c.json();
        List<?> inits = f.list("init_images");
        if (inits == null || inits.isEmpty()) throw ApiException.invalid("init_images", "is required: a list with one base64 image");
        if (inits.size() > 1 || !(inits.getFirst() instanceof String b64)) throw ApiException.invalid("init_images", "must be a list of one base64 image");
        Long invert = f.integer("inpainting_mask_invert", 0, 1);
        if (invert != null && invert == 1) throw ApiException.invalid("inpainting_mask_invert", "inverted masks are not supported: send the mask with white = repaint");
        Double strength = f.number("denoising_strength", 0, 1);
        double s = strength == null ? 0.75 : strength;
        Uploads up = server.uploads();
        SourceImage init = up.save("init_images", Uploads.base64("init_images", b64));
        ImageCondition condition;
        try {
            String mask = f.string("mask", null);
            condition = mask == null ? new ImageCondition.InitImage(init, s) : new ImageCondition.Inpaint(init, up.save("mask", Uploads.base64("mask", mask)), s);
        } catch (IllegalArgumentException e) {
            up.forget(init);
            throw ApiException.invalid("mask", e.getMessage());
        } catch (ApiException e) {
            up.forget(init);
            throw e;
        }
        JobSpec spec;
        try {
            spec = spec(f, List.of(condition));
        } catch (ApiException e) {
            up.forget(condition);
            throw e;
        }
        reply(c, f, server.submit(spec));
    }

    /** Waits for the job and answers as A1111 does: the images, the request's parameters, the info string. */
    private void reply(Call c, Fields f, Job job) throws IOException {
        OpenAiApi.awaitDone(job);
        boolean send = !Boolean.FALSE.equals(f.bool("send_images"));
        List<Object> images = new ArrayList<>();
        if (send) {
            String format = samplesFormat;
            for (Job.Output o : job.outputs()) {
                String file = OutputFiles.as(queue.outputDir(), o.file(), format);
                images.add(Base64.getEncoder().encodeToString(Files.readAllBytes(queue.outputDir().resolve(file))));
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("images", images);
        Map<String, Object> parameters = new LinkedHashMap<>(f.raw());
        parameters.remove("init_images");
        parameters.remove("mask");
        out.put("parameters", parameters);
        out.put("info", fluxj.io.Json.write(info(job)));
        c.json(200, out);
    }

    /** A1111's {@code info}: the resolved parameters of the first image, the seeds and infotexts of all. */
    private Map<String, Object> info(Job job) {
        List<Job.Output> outs = job.outputs();
        GenerationRequest r = job.spec.request();
        Infotext first = outs.isEmpty() ? null : Infotext.parse(outs.getFirst().parameters());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("prompt", r.prompt());
        m.put("all_prompts", outs.stream().map(o -> (Object) r.prompt()).toList());
        m.put("negative_prompt", r.negativePrompt());
        m.put("all_negative_prompts", outs.stream().map(o -> (Object) r.negativePrompt()).toList());
        m.put("seed", outs.isEmpty() ? r.seed() : outs.getFirst().seed());
        m.put("all_seeds", outs.stream().map(o -> (Object) o.seed()).toList());
        m.put("subseed", -1L);
        m.put("all_subseeds", outs.stream().map(o -> (Object) (-1L)).toList());
        m.put("subseed_strength", 0L);
        m.put("width", (long) r.width());
        m.put("height", (long) r.height());
        m.put("sampler_name", "Euler");
        m.put("scheduler", "simple");
        m.put("cfg_scale", r.cfgScale());
        m.put("distilled_cfg_scale", first == null ? (Object) r.guidance() : Double.valueOf(first.fields().get("Guidance")));
        m.put("steps", first == null ? (Object) r.steps() : Long.valueOf(first.fields().get("Steps")));
        m.put("batch_size", (long) job.spec.count());
        m.put("restore_faces", false);
        m.put("face_restoration_model", null);
        m.put("sd_model_name", job.spec.model());
        m.put("sd_model_hash", first == null ? null : first.fields().get("Model hash"));
        m.put("sd_vae_name", null);
        m.put("sd_vae_hash", null);
        m.put("seed_resize_from_w", -1L);
        m.put("seed_resize_from_h", -1L);
        m.put("denoising_strength", r.conditions().stream().map(A1111Api::strength).filter(java.util.Objects::nonNull).findFirst().orElse(null));
        m.put("extra_generation_params", Map.of());
        m.put("index_of_first_image", 0L);
        m.put("infotexts", outs.stream().map(o -> (Object) o.parameters()).toList());
        m.put("styles", List.of());
        m.put("job_timestamp", STAMP.format(Instant.ofEpochMilli(job.created)));
        m.put("clip_skip", 1L);
        m.put("is_using_inpainting_conditioning", r.conditions().stream().anyMatch(x -> x instanceof ImageCondition.Inpaint));
        m.put("version", Infotext.VERSION);
        return m;
    }

    private static Double strength(ImageCondition c) {
        return switch (c) {
            case ImageCondition.InitImage i -> i.strength();
            case ImageCondition.Inpaint i -> i.strength();
            default -> null;
        };
    }

    private void progress(Call c) throws IOException {
        Job job = queue.running();
        int waiting = queue.queued();
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("skipped", job != null && job.skipPending());
        state.put("interrupted", job != null && (job.cancelRequested() || job.interruptRequested()));
        state.put("stopping_generation", false);
        state.put("job", job == null ? "" : job.id);
        state.put("job_count", (long) (waiting + (job == null ? 0 : 1)));
        state.put("job_timestamp", job == null ? "0" : STAMP.format(Instant.ofEpochMilli(job.created)));
        state.put("job_no", job == null ? 0L : (long) job.image());
        state.put("sampling_step", job == null ? 0L : (long) job.step());
        state.put("sampling_steps", job == null ? 0L : (long) job.steps());
        boolean skipImage = "true".equalsIgnoreCase(c.query().get("skip_current_image"));
        byte[] preview = job == null || skipImage ? null : job.preview();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("progress", job == null ? 0.0 : job.fraction());
        double eta = job == null ? 0 : job.etaSeconds();
        m.put("eta_relative", Double.isNaN(eta) ? 0.0 : eta);
        m.put("state", state);
        m.put("current_image", preview == null ? null : Base64.getEncoder().encodeToString(preview));
        m.put("textinfo", null);
        m.put("current_task", job == null ? null : job.id);
        c.json(200, m);
    }

    private void options(Call c) throws IOException {
        Models models = queue.models();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("sd_model_checkpoint", models.title(models.current()));
        m.put("sd_checkpoint_hash", models.hash(models.current()));
        m.put("sd_vae", "Automatic");
        m.put("samples_format", samplesFormat.equals("jpeg") ? "jpg" : samplesFormat);
        m.put("CLIP_stop_at_last_layers", 1L);
        m.put("eta_noise_seed_delta", 0L);
        m.put("forge_additional_modules", List.of());
        c.json(200, m);
    }

    /**
     * {@code sd_model_checkpoint} switches the model and {@code samples_format} (png, jpg or webp, lossless here)
     * sets the format of the images replies carry; other options are accepted and ignored.
     */
    private void setOptions(Call c) throws IOException {
        Fields f = c.json();
        String samples = f.string("samples_format", null);
        if (samples != null) {
            String format = OutputFiles.format(samples);
            if (format == null) throw ApiException.invalid("samples_format", "must be png, jpg or webp, got '" + samples + "'");
            samplesFormat = format;
        }
        String ckpt = f.string("sd_model_checkpoint", null);
        if (ckpt != null) queue.models().select(ckpt, "sd_model_checkpoint");
        c.json(200, null);
    }

    private void sdModels(Call c) throws IOException {
        Models models = queue.models();
        List<Object> list = new ArrayList<>();
        for (Models.Served s : models.served()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("title", models.title(s.name()));
            m.put("model_name", s.name());
            m.put("hash", models.hash(s.name()));
            m.put("sha256", null);
            m.put("filename", s.location());
            m.put("config", null);
            list.add(m);
        }
        c.json(200, list);
    }
}
