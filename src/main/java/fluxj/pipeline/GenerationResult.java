package fluxj.pipeline;

/**
 * A generated image and how it was made.
 *
 * @param request   the request with every default resolved (steps, seed, guidance): regenerates this image
 * @param stoppedAt 0 when the image ran every step of its schedule (which img2img shortens by its strength);
 *                  otherwise the step {@link ProgressListener#finishEarly()} stopped it at, counted as the
 *                  progress counts (then the image is the estimate of the clean image at that step)
 */
public record GenerationResult(RgbImage image, GenerationRequest request, String modelName, String modelHash, int stoppedAt) {
    /** A result that ran every step of its schedule. */
    public GenerationResult(RgbImage image, GenerationRequest request, String modelName, String modelHash) {
        this(image, request, modelName, modelHash, 0);
    }

    /** Whether the image stopped before its last step. */
    public boolean stoppedEarly() {
        return stoppedAt > 0;
    }

    /**
     * The AUTOMATIC1111-style parameters text stored in the PNG; an image stopped early says at which step (its
     * other parameters regenerate the finished image).
     */
    public Infotext infotext() {
        Infotext t = Infotext.of(request, modelName, modelHash);
        return stoppedEarly() ? t.with(Infotext.STOPPED_AT, Integer.toString(stoppedAt)) : t;
    }

    /** Writes the image as PNG with its parameters, replacing {@code file}. */
    public void writePng(java.nio.file.Path file) throws java.io.IOException {
        PngFiles.write(file, image, infotext().format());
    }

    /** The bytes {@link #writePng} writes. */
    public byte[] png() throws java.io.IOException {
        return PngFiles.encode(image, infotext().format());
    }
}
