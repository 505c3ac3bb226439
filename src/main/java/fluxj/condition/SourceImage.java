package fluxj.condition;

import fluxj.image.ImageFiles;
import fluxj.pipeline.RgbImage;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * An input image of a condition: its 8-bit RGB pixels (alpha already dropped, grayscale replicated, as Pillow's
 * {@code convert("RGB")}) and where it came from, for the PNG record and for re-running it.
 *
 * @param name   the file as the user named it; null for an image made in memory
 * @param sha256 hex SHA-256 of the file's bytes; null for an image made in memory
 */
public record SourceImage(RgbImage pixels, String name, String sha256) {
    public SourceImage {
        Objects.requireNonNull(pixels, "pixels");
    }

    /** The image in {@code file} (PNG or JPEG), with its name and hash; refuses images over {@code maxPixels} before decoding. */
    public static SourceImage read(Path file, long maxPixels) throws IOException {
        ImageFiles.Loaded l = ImageFiles.read(file, maxPixels);
        return new SourceImage(l.image(), file.toString(), l.sha256());
    }

    /** The image in {@code file}, of at most {@link ImageFiles#MAX_PIXELS}. */
    public static SourceImage read(Path file) throws IOException {
        return read(file, ImageFiles.MAX_PIXELS);
    }

    /** An image made in memory (no file to record). */
    public static SourceImage of(RgbImage pixels) {
        return new SourceImage(pixels, null, null);
    }

    public int width() { return pixels.width(); }

    public int height() { return pixels.height(); }

    /** What to call this image in messages: its file name, or its size. */
    public String label() {
        return name != null ? name : "the " + width() + "x" + height() + " image";
    }
}
