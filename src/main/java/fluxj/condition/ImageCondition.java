package fluxj.condition;

/**
 * One image a generation is conditioned on, as data. Kinds of conditioning (BFL {@code sampling.py}):
 * <ul>
 *   <li>{@link InitImage}: img2img, the start latent mixes the image's latent with the noise ({@code demo_st.py});</li>
 *   <li>{@link Inpaint}: img2img whose unmasked region is re-imposed after every step (64-channel models);</li>
 *   <li>{@link Fill} / {@link Outpaint}: FLUX.1 Fill's masked image and mask, channel-concatenated ({@code prepare_fill});</li>
 *   <li>{@link Reference}: Kontext reference tokens appended to the sequence ({@code prepare_kontext}), repeatable;</li>
 *   <li>{@link Control}: a Canny/Depth control image's latent, channel-concatenated ({@code prepare_control}).</li>
 * </ul>
 * Masks are read as Pillow's {@code convert("L")}: white (255) is the region to generate.
 */
public sealed interface ImageCondition {
    /** img2img from {@code image}; {@code strength} 0 keeps it, 1 ignores it (plain text to image). */
    record InitImage(SourceImage image, double strength) implements ImageCondition {
        public InitImage {
            checkStrength(strength);
        }
    }

    /** Inpainting with a plain model: img2img, the black region of {@code mask} kept as it is after every step. */
    record Inpaint(SourceImage image, SourceImage mask, double strength) implements ImageCondition {
        public Inpaint {
            checkStrength(strength);
            checkSameSize(image, mask);
        }
    }

    /** FLUX.1 Fill: generate the white region of {@code mask} (soft values blend) in {@code image}. */
    record Fill(SourceImage image, SourceImage mask) implements ImageCondition {
        public Fill {
            checkSameSize(image, mask);
        }
    }

    /**
     * FLUX.1 Fill extending {@code image} by {@code left}, {@code top}, {@code right}, {@code bottom} pixels: the image
     * on a black canvas, the mask white where the new content goes ({@link #fill()}).
     */
    record Outpaint(SourceImage image, int left, int top, int right, int bottom) implements ImageCondition {
        public Outpaint {
            if (left < 0 || top < 0 || right < 0 || bottom < 0) {
                throw new IllegalArgumentException("outpaint margins must not be negative, got " + left + "," + top + "," + right + "," + bottom);
            }
            if (left + right + image.width() > 16384 || top + bottom + image.height() > 16384) {
                throw new IllegalArgumentException("outpaint: the padded image would exceed 16384 pixels on a side");
            }
        }

        public int paddedWidth() { return left + image.width() + right; }

        public int paddedHeight() { return top + image.height() + bottom; }

        /** The Fill this outpainting is. */
        public Fill fill() {
            return new Fill(SourceImage.of(Pixels.padded(image.pixels(), left, top, right, bottom, 0)),
                    SourceImage.of(Pixels.border(image.width(), image.height(), left, top, right, bottom)));
        }
    }

    /** A Kontext reference image (several: laid out as ComfyUI's "offset" method, in order). */
    record Reference(SourceImage image) implements ImageCondition {}

    /** A ready Canny edge or depth map for a control model. */
    record Control(SourceImage image) implements ImageCondition {}

    private static void checkStrength(double s) {
        if (!(s >= 0 && s <= 1)) throw new IllegalArgumentException("strength must be between 0 and 1, got " + s);
    }

    private static void checkSameSize(SourceImage image, SourceImage mask) {
        if (image.width() != mask.width() || image.height() != mask.height()) {
            throw new IllegalArgumentException("the mask " + mask.label() + " is " + mask.width() + "x" + mask.height()
                    + " but the image " + image.label() + " is " + image.width() + "x" + image.height() + ": they must have the same size");
        }
    }
}
