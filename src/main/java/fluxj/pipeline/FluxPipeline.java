package fluxj.pipeline;

import fluxj.condition.ImageConditioning;
import fluxj.memory.ImageInputs;
import fluxj.memory.MemoryPlan;
import fluxj.memory.Phase;
import fluxj.sampling.EulerSampler;
import fluxj.sampling.TrueCfg;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

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
    private void applyLoras(GenerationRequest r, java.util.function.Consumer<String> warnings) {
        MemoryControl memory = parts.memory();
        if (memory == null) {
            if (!r.loras().isEmpty()) throw new IllegalArgumentException("this pipeline's model parts take no LoRA");
            return;
        }
        if (memory.applyLoras(r.loras(), warnings)) recentPrompts.clear();
    }

    /**
     * Generates one image.
     *
     * @throws IllegalArgumentException when the request's image conditions do not suit this model (see
     *                                  {@link ImageConditioning#check}), before any work
     */
    public GenerationResult generate(GenerationRequest request, ProgressListener listener) {
        GenerationRequest r = resolve(request);
        ModelInfo info = model();
        ImageConditioning.check(r.conditions(), info.input());
        MemoryControl memory = parts.memory();
        applyLoras(r, listener::warning);
        if (memory != null) {
            MemoryPlan plan = memory.prepare(r, ImageConditioning.memoryInputs(r.conditions(), r.width(), r.height()));
            listener.plan(plan);
            if (!plan.fits()) throw new IllegalStateException("the memory plan does not fit the budget:" + System.lineSeparator() + plan.render().stripTrailing());
        }
        int h = r.height() / 16, w = r.width() / 16, c = info.latentChannels();

        listener.stage(ProgressListener.Stage.ENCODING_PROMPT);
        Conditioning pos = condition(r.prompt(), listener);
        TrueCfg cfg = r.trueCfg() ? new TrueCfg(r.cfgScale(), r.intervalLo(), r.intervalHi()) : null;
        Conditioning neg = cfg == null ? null : condition(r.negativePrompt(), listener);
        if (memory != null) memory.done(Phase.ENCODE);

        // the schedule counts the target's tokens only, never the references'
        ImageConditioning images = ImageConditioning.prepare(r.conditions(), info.input(), parts.encoder(), r.width(), r.height(), c,
                Latents.noise(r.seed(), c, r.height(), r.width()), info.schedule().timesteps(r.steps(), h * w), listener::warning);
        if (memory != null && !r.conditions().isEmpty()) memory.done(Phase.ENCODE_IMAGES);

        float[] x = images.start();
        float[] timesteps = images.timesteps();
        float guidance = r.guidance().floatValue();
        Denoiser d = parts.denoiser();
        int tokens = images.tokens();
        float[] ids = images.ids();

        listener.stage(ProgressListener.Stage.DENOISING);
        long start = System.nanoTime();
        x = EulerSampler.sample(x, timesteps,
                (z, t) -> images.velocity(d.velocity(images.input(z), tokens, ids, t, pos, guidance)),
                neg == null ? null : (z, t) -> images.velocity(d.velocity(images.input(z), tokens, ids, t, neg, guidance)),
                cfg, images::afterStep,
                (i, n, latent, guided) -> listener.step(new ProgressListener.Step(i, n, timesteps[i - 1], guided, System.nanoTime() - start, latent)));

        if (memory != null) memory.done(Phase.DENOISE);

        listener.stage(ProgressListener.Stage.DECODING);
        float[] image = parts.decoder().decode(Latents.unpack(x, c, h, w), 2 * h, 2 * w);
        if (memory != null) memory.done(Phase.DECODE);
        return new GenerationResult(RgbImage.fromDecoded(image, r.width(), r.height()), r, info.name(), info.hash());
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
