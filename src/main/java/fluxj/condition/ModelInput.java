package fluxj.condition;

/**
 * What a FLUX.1 transformer's {@code img_in} reads per token, told from its width: the packed latent alone (64 for
 * FLUX.1's 16 latent channels: text to image, img2img, inpainting, Kontext), the latent and a control image's latent
 * (128: Canny, Depth), or the latent, a masked image's latent and the 8x8 mask pixels of the token's 16x16 patch
 * (384: Fill). Every variant predicts the latent's width.
 */
public enum ModelInput {
    LATENT("text to image / img2img / inpainting / Kontext"),
    CONTROL("Canny/Depth control"),
    FILL("FLUX.1 Fill");

    /** Mask features per token of a Fill model: the 8x8 pixels under each of the 2x2 latent pixels of a token. */
    public static final int FILL_MASK_FEATURES = 4 * 8 * 8;

    private final String label;

    ModelInput(String label) { this.label = label; }

    public String label() { return label; }

    /** The variant of a transformer whose img_in takes {@code inChannels} for {@code latentWidth} = 4 x latent channels; null if none. */
    public static ModelInput of(int inChannels, int latentWidth) {
        if (inChannels == latentWidth) return LATENT;
        if (inChannels == 2 * latentWidth) return CONTROL;
        if (inChannels == 2 * latentWidth + FILL_MASK_FEATURES) return FILL;
        return null;
    }

    /** Conditioning features per token channel-concatenated after the latent's {@code latentWidth}. */
    public int extraFeatures(int latentWidth) {
        return switch (this) {
            case LATENT -> 0;
            case CONTROL -> latentWidth;
            case FILL -> latentWidth + FILL_MASK_FEATURES;
        };
    }
}
