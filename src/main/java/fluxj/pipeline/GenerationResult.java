package fluxj.pipeline;

/**
 * A generated image and how it was made.
 *
 * @param request  the request with every default resolved (steps, seed, guidance): regenerates this image
 * @param stepsRun the steps made: all of the request's, or fewer when {@link ProgressListener#finishEarly()}
 *                 stopped the image (then it is the estimate of the clean image at that step)
 */
public record GenerationResult(RgbImage image, GenerationRequest request, String modelName, String modelHash, int stepsRun) {
    /** A result that ran every step of {@code request}. */
    public GenerationResult(RgbImage image, GenerationRequest request, String modelName, String modelHash) {
        this(image, request, modelName, modelHash, request.steps());
    }

    /** Whether the image stopped before its last step. */
    public boolean stoppedEarly() {
        return stepsRun < request.steps();
    }

    /**
     * The AUTOMATIC1111-style parameters text stored in the PNG; an image stopped early says at which step (its
     * other parameters regenerate the finished image).
     */
    public Infotext infotext() {
        Infotext t = Infotext.of(request, modelName, modelHash);
        return stoppedEarly() ? t.with(Infotext.STOPPED_AT, Integer.toString(stepsRun)) : t;
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
