package fluxj.pipeline;

/**
 * A generated image and how it was made.
 *
 * @param request the request with every default resolved (steps, seed, guidance): regenerates this image
 */
public record GenerationResult(RgbImage image, GenerationRequest request, String modelName, String modelHash) {
    /** The AUTOMATIC1111-style parameters text stored in the PNG. */
    public Infotext infotext() {
        return Infotext.of(request, modelName, modelHash);
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
