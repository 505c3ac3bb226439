package fluxj.memory;

import java.util.List;

/**
 * What a request's input images add to a run's memory: the sizes the VAE encoder takes them at (after any
 * resizing), and the tokens they append to the transformer's image sequence at every step (FLUX.1 Kontext's
 * reference tokens; images concatenated along channels add none).
 */
public record ImageInputs(List<Size> encoded, int referenceTokens) {
    public static final ImageInputs NONE = new ImageInputs(List.of(), 0);

    /** An image's size in pixels. */
    public record Size(int width, int height) {
        public Size {
            if (width < 1 || height < 1) throw new IllegalArgumentException("image size " + width + "x" + height);
        }
    }

    public ImageInputs {
        encoded = List.copyOf(encoded);
        if (referenceTokens < 0) throw new IllegalArgumentException("negative reference token count");
    }
}
