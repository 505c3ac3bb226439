package fluxj.pipeline;

import fluxj.condition.ImageConditioning;
import fluxj.condition.ModelInput;
import fluxj.memory.ImageInputs;
import fluxj.memory.MemoryPlan;
import fluxj.memory.Phase;
import fluxj.sampling.EulerSampler;
import fluxj.sampling.TrueCfg;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;

/**
 * Text to image with a FLUX.1 model, as the reference pipeline does it: encode the prompt (T5 + pooled CLIP),
 * draw torch-compatible noise from the seed, pack it into 2x2 patches, integrate the flow with Euler steps over the
 * model's schedule (optionally with true classifier-free guidance), unpack, decode with the VAE and convert to
 * 8 bits. Open one with {@link #open}; it holds the mapped weights until closed. Not thread-safe.
 */
public final class FluxPipeline implements AutoCloseable {
    /** The model parts behind their interfaces; {@code encoder} may be null (no image conditions); {@code onClose} releases their weights. */
    public record Parts(ModelInfo info, TextConditioner text, Denoiser denoiser, LatentDecoder decoder, LatentEncoder encoder,
                        MemoryControl memory, Runnable onClose) {
        /** Parts without a VAE encoder: text to image only. */
        public Parts(ModelInfo info, TextConditioner text, Denoiser denoiser, LatentDecoder decoder, MemoryControl memory, Runnable onClose) {
            this(info, text, denoiser, decoder, null, memory, onClose);
        }
    }

    private final Parts parts;
    private final Map<String, Conditioning> recentPrompts = new LinkedHashMap<>(4, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Conditioning> e) {
            return size() > 4;
        }
    };

    public FluxPipeline(Parts parts) {
        this.parts = parts;
    }

    /** Loads the model {@code source} names, downloading a repo's files first when the cache lacks them. */
    public static FluxPipeline open(ModelSource source, HubClient.Listener listener) throws IOException {
        return new FluxPipeline(FluxComponents.load(source.resolve(listener)));
    }

    public ModelInfo model() {
        return parts.info();
    }

    /** {@code r} with the model's defaults filled in (steps, guidance) and a random seed when none is given. */
    public GenerationRequest resolve(GenerationRequest r) {
        GenerationRequest.Builder b = r.toBuilder();
        if (r.steps() == null) b.steps(model().defaultSteps());
        if (r.guidance() == null) b.guidance(GenerationRequest.DEFAULT_GUIDANCE);
        if (r.seed() == null) b.seed(ThreadLocalRandom.current().nextLong(1L << 32));
        return b.build();
    }

    /**
     * The memory plan {@code request} would run under, its image conditions included (nothing is loaded); null
     * for parts without memory control.
     */
    public MemoryPlan plan(GenerationRequest request) {
        GenerationRequest r = resolve(request);
        return plan(r, ImageConditioning.memoryInputs(r.conditions(), r.width(), r.height()));
    }

    /** As {@link #plan(GenerationRequest)} with input images of these sizes to encode and reference tokens. */
    public MemoryPlan plan(GenerationRequest request, ImageInputs images) {
        if (parts.memory() == null) return null;
        applyLoras(request, w -> {});
        return parts.memory().prepare(resolve(request), images);
    }

    /** The request's LoRAs on the model parts; prompts encoded before a text-encoder LoRA changed are forgotten. */
    private void applyLoras(GenerationRequest r, Consumer<String> warnings) {
        MemoryControl memory = parts.memory();
        if (memory == null) {
            if (!r.loras().isEmpty()) throw new IllegalArgumentException("this pipeline's model parts take no LoRA");
            return;
        }
        if (memory.applyLoras(r.loras(), warnings)) recentPrompts.clear();
    }

    /**
     * What the transformer reads with {@code request}'s LoRAs: the model's own input, or a Canny/Depth control model's
     * when a control LoRA widens a base model's img_in. Reads and checks the LoRA files (their warnings go to
     * {@code warnings}) and makes them the model's from the next use on.
     */
    public ModelInput input(GenerationRequest request, Consumer<String> warnings) {
        applyLoras(request, warnings);
        return parts.memory() == null ? model().input() : parts.memory().input(model().input());
    }

    /**
     * Generates one image.
     *
     * @throws IllegalArgumentException when the request's image conditions do not suit this model (see
     *                                  {@link ImageConditioning#check}), before any work
     * @throws GenerationCancelledException when {@link ProgressListener#cancelled()} says so; the parts are then
     *         released as the memory plan would release them at the end of the image
     */
    public GenerationResult generate(GenerationRequest request, ProgressListener listener) {
        try {
            return run(request, listener);
        } catch (GenerationCancelledException e) {
            if (parts.memory() != null) for (Phase p : Phase.values()) parts.memory().done(p);
            throw e;
        }
    }

    private static void stage(ProgressListener listener, ProgressListener.Stage stage) {
        if (listener.cancelled()) throw new GenerationCancelledException();
        listener.stage(stage);
    }

    private GenerationResult run(GenerationRequest request, ProgressListener listener) {
        GenerationRequest r = resolve(request);
        ModelInfo info = model();
        ModelInput input = input(r, listener::warning);
        ImageConditioning.check(r.conditions(), input, info.input());
        MemoryControl memory = parts.memory();
        if (memory != null) {
            MemoryPlan plan = memory.prepare(r, ImageConditioning.memoryInputs(r.conditions(), r.width(), r.height()));
            listener.plan(plan);
            if (!plan.fits()) throw new IllegalStateException("the memory plan does not fit the budget:" + System.lineSeparator() + plan.render().stripTrailing());
        }
        int h = r.height() / 16, w = r.width() / 16, c = info.latentChannels();

        stage(listener, ProgressListener.Stage.ENCODING_PROMPT);
        Conditioning pos = condition(r.prompt(), listener);
        TrueCfg cfg = r.trueCfg() ? new TrueCfg(r.cfgScale(), r.intervalLo(), r.intervalHi()) : null;
        Conditioning neg = cfg == null ? null : condition(r.negativePrompt(), listener);
        if (memory != null) memory.done(Phase.ENCODE);

        // the schedule counts the target's tokens only, never the references'
        ImageConditioning images = ImageConditioning.prepare(r.conditions(), input, parts.encoder(), r.width(), r.height(), c,
                Latents.noise(r.seed(), c, r.height(), r.width()), info.schedule().timesteps(r.steps(), h * w), listener::warning);
        if (memory != null && !r.conditions().isEmpty()) memory.done(Phase.ENCODE_IMAGES);

        float[] x = images.start();
        float[] timesteps = images.timesteps();
        float guidance = r.guidance().floatValue();
        Denoiser d = parts.denoiser();
        int tokens = images.tokens();
        float[] ids = images.ids();

        stage(listener, ProgressListener.Stage.DENOISING);
        long start = System.nanoTime();
        int[] stoppedAt = {0};
        x = EulerSampler.sample(x, timesteps,
                (z, t) -> images.velocity(d.velocity(images.input(z), tokens, ids, t, pos, guidance)),
                neg == null ? null : (z, t) -> images.velocity(d.velocity(images.input(z), tokens, ids, t, neg, guidance)),
                cfg, images::afterStep,
                (i, n, latent, v, tNext, guided) -> {
                    float[] denoised = EulerSampler.denoised(latent, v, tNext, images::afterStep);
                    listener.step(new ProgressListener.Step(i, n, timesteps[i - 1], guided, System.nanoTime() - start, latent, denoised));
                    if (listener.cancelled()) throw new GenerationCancelledException();
                },
                i -> {
                    if (!listener.finishEarly()) return false;
                    stoppedAt[0] = i;
                    return true;
                });

        if (memory != null) memory.done(Phase.DENOISE);

        stage(listener, ProgressListener.Stage.DECODING);
        RgbImage image = decode(x, r.width(), r.height());
        if (memory != null) memory.done(Phase.DECODE);
        return new GenerationResult(image, r, info.name(), info.hash(), stoppedAt[0]);
    }

    /** The image of a packed latent of a {@code width} x {@code height} image, as a generation decodes its last one. */
    public RgbImage decode(float[] packedLatent, int width, int height) {
        int h = height / 16, w = width / 16;
        float[] image = parts.decoder().decode(Latents.unpack(packedLatent, model().latentChannels(), h, w), 2 * h, 2 * w);
        return RgbImage.fromDecoded(image, width, height);
    }

    private Conditioning condition(String prompt, ProgressListener listener) {
        Conditioning cond = recentPrompts.get(prompt);
        if (cond == null) {
            cond = parts.text().encode(prompt);
            recentPrompts.put(prompt, cond);
            cond.warnings().forEach(listener::warning);
        }
        return cond;
    }

    @Override
    public void close() {
        if (parts.onClose() != null) parts.onClose().run();
    }
}
