package fluxj.pipeline;

import fluxj.condition.ModelInput;
import fluxj.flux.FluxConfig;
import fluxj.flux.FluxTransformer;
import fluxj.io.Checkpoint;
import fluxj.sampling.Schedule;
import fluxj.tensor.ModelFormatException;
import fluxj.text.ClipTextModel;
import fluxj.text.ClipTokenizer;
import fluxj.text.T5Encoder;
import fluxj.text.T5Tokenizer;
import fluxj.vae.AutoEncoder;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The real model parts behind the pipeline's interfaces: FluxTransformer, CLIP-L + T5 with their tokenizers, the VAE. */
final class FluxComponents {
    private FluxComponents() {}

    /**
     * Maps every part once to check that they fit together and to size them, then hands them to
     * {@link ManagedModels}, which maps each again only in its phase, as the memory plan says.
     */
    static FluxPipeline.Parts load(ModelFiles f) throws IOException {
        Map<Path, Checkpoint> open = new LinkedHashMap<>();
        try {
            FluxTransformer transformer = FluxTransformer.load(opened(open, f.transformer()), f.transformerConfig());
            AutoEncoder ae = AutoEncoder.load(opened(open, f.vae()), f.vaeConfig());
            ClipTextModel clip = ClipTextModel.load(opened(open, f.clip()), f.clipConfig());
            T5Encoder t5 = T5Encoder.load(opened(open, f.t5()), f.t5Config());
            ClipTokenizer clipTok = ClipTokenizer.load(f.clipTokenizer());
            T5Tokenizer t5Tok = T5Tokenizer.load(f.t5Tokenizer());

            FluxConfig c = transformer.config();
            check(c.contextDim() == t5.outDim(), f.t5().toString(), "T5 gives " + t5.outDim() + "-wide embeddings but the transformer (" + f.transformer() + ") takes " + c.contextDim());
            check(c.vecDim() == clip.width(), f.clip().toString(), "CLIP gives a " + clip.width() + "-wide pooled vector but the transformer (" + f.transformer() + ") takes " + c.vecDim());
            check(c.outChannels() == 4 * ae.latentChannels(), f.vae().toString(), "the VAE has " + ae.latentChannels() + " latent channels but the transformer (" + f.transformer() + ") predicts " + c.outChannels() + " = 4 x " + c.outChannels() / 4);
            ModelInput input = ModelInput.of(c.inChannels(), c.outChannels());
            check(input != null, f.transformer().toString(), "img_in takes " + c.inChannels() + " channels, which is none of FLUX.1's variants for a "
                    + c.outChannels() + "-wide latent (" + c.outChannels() + " plain, " + 2 * c.outChannels() + " Canny/Depth, "
                    + (2 * c.outChannels() + ModelInput.FILL_MASK_FEATURES) + " Fill)");

            boolean dev = c.guidanceEmbed();
            Schedule schedule = f.schedulerConfig() != null ? Schedule.fromSchedulerConfig(f.schedulerConfig()) : Schedule.forModel(dev);
            ModelInfo info = new ModelInfo(f.name(), ModelHash.lazy(f.transformerFiles()), dev, ae.latentChannels(), ModelInfo.t5MaxLengthFor(dev), schedule, input);
            ManagedModels models = new ManagedModels(f, transformer, clip, t5, ae, open, info.t5MaxLength());
            return new FluxPipeline.Parts(info, text(clipTok, models, t5Tok, info.t5MaxLength()), denoiser(models),
                    (z, h, w) -> models.vae().decode(z, h, w), (x, h, w) -> models.vae().encode(x, h, w), models, models::close);
        } finally {
            open.values().forEach(Checkpoint::close);
        }
    }

    /** Each file mapped once, even when one file holds several parts. */
    private static Checkpoint opened(Map<Path, Checkpoint> open, Path p) throws IOException {
        Checkpoint ck = open.get(p);
        if (ck == null) {
            ck = Checkpoint.open(p);
            open.put(p, ck);
        }
        return ck;
    }

    private static void check(boolean ok, String file, String problem) {
        if (!ok) throw new ModelFormatException(file, problem);
    }

    /** T5 sequence padded to the model's length, pooled CLIP over 77 tokens; warns when either truncates the prompt. */
    private static TextConditioner text(ClipTokenizer clipTok, ManagedModels models, T5Tokenizer t5Tok, int t5Len) {
        return prompt -> {
            List<String> warnings = new ArrayList<>();
            int clipCount = clipTok.encode(prompt).length, t5Count = t5Tok.encode(prompt).length;
            if (clipCount > ModelInfo.CLIP_MAX_LENGTH) {
                warnings.add("the prompt has " + clipCount + " CLIP tokens; CLIP reads the first " + ModelInfo.CLIP_MAX_LENGTH
                        + (t5Count <= t5Len ? " (T5 reads all of it)" : ""));
            }
            if (t5Count > t5Len) warnings.add("the prompt has " + t5Count + " T5 tokens; this model reads the first " + t5Len + ", the rest is ignored");
            int[] t5Ids = t5Tok.encodePadded(prompt, t5Len);
            float[] txt = models.t5().encode(t5Ids);
            return new Conditioning(txt, t5Len, models.clip().pooled(clipTok.encodePadded(prompt, ModelInfo.CLIP_MAX_LENGTH)), warnings);
        };
    }

    /** Text position ids are the same for every step: built once per text length. */
    private static Denoiser denoiser(ManagedModels models) {
        Map<Integer, float[]> txtIds = new HashMap<>();
        return (img, tokens, ids, t, cond, guidance) -> models.transformer().forward(img, tokens, ids,
                cond.txt(), cond.txtLen(), txtIds.computeIfAbsent(cond.txtLen(), Latents::textIds),
                t, cond.vec(), guidance);
    }
}
