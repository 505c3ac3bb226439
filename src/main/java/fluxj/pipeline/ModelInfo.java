package fluxj.pipeline;

import fluxj.condition.ModelInput;
import fluxj.sampling.Schedule;

import java.util.function.Supplier;

/**
 * What the pipeline needs to know about a loaded model.
 *
 * @param name            a display name (repo id, folder or file name), stored in the PNG
 * @param hashSource      first 10 hex digits of the SHA-256 of the transformer weights, stored in the PNG (computed
 *                        when first asked for: see {@link ModelHash#lazy})
 * @param guidanceEmbed   true for dev-type models (distilled guidance input), false for schnell
 * @param latentChannels  VAE latent channels (16 for FLUX.1)
 * @param t5MaxLength     T5 tokens the model sees: 256 for schnell, 512 for dev
 * @param schedule        the timestep schedule (the scheduler config when present, else by model type)
 * @param input           what the transformer's img_in reads besides the latent (from its width: Fill, control)
 */
public record ModelInfo(String name, Supplier<String> hashSource, boolean guidanceEmbed, int latentChannels, int t5MaxLength,
                        Schedule schedule, ModelInput input) {
    public static final int CLIP_MAX_LENGTH = 77;

    /** A model whose transformer reads the packed latent only (text to image). */
    public ModelInfo(String name, Supplier<String> hashSource, boolean guidanceEmbed, int latentChannels, int t5MaxLength, Schedule schedule) {
        this(name, hashSource, guidanceEmbed, latentChannels, t5MaxLength, schedule, ModelInput.LATENT);
    }

    /** The model hash of the PNG parameters. */
    public String hash() { return hashSource.get(); }

    /** The reference's T5 length: 512 tokens for models with a guidance embedder (dev), 256 for schnell. */
    public static int t5MaxLengthFor(boolean guidanceEmbed) {
        return guidanceEmbed ? 512 : 256;
    }

    /** Default steps: 4 for schnell (timestep-distilled), 28 for dev. */
    public int defaultSteps() {
        return guidanceEmbed ? 28 : 4;
    }
}
