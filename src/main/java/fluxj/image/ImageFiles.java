package fluxj.image;

import fluxj.pipeline.ModelHash;
import fluxj.pipeline.RgbImage;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Input images (PNG, JPEG) read as the reference reads them, {@code Image.open(f).convert("RGB")}: the stored
 * samples themselves, no colour management; alpha dropped, not composited; grayscale replicated to R = G = B;
 * palette entries looked up; 16-bit samples made 8-bit as Pillow does (see {@link #eightBits}).
 */
public final class ImageFiles {
    /** The largest image read at all: FLUX's largest size, 16384 x 16384. */
    public static final long MAX_PIXELS = 16384L * 16384;

    private ImageFiles() {}

    /** An image file's pixels and the SHA-256 of its bytes. */
    public record Loaded(RgbImage image, String sha256) {}

    /**
     * Reads {@code file}, refusing an image of more than {@code maxPixels} pixels before decoding it.
     *
     * @throws IOException naming the file when it is missing, not a PNG or JPEG, truncated or corrupt
     */
    public static Loaded read(Path file, long maxPixels) throws IOException {
        if (!Files.isRegularFile(file)) throw new NoSuchFileException(file.toString());
        String sha = ModelHash.sha256(List.of(file));
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            var readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) throw new IOException(file + ": not a PNG or JPEG image");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                String format = reader.getFormatName().toLowerCase(Locale.ROOT);
                if (!format.equals("png") && !format.equals("jpeg")) throw new IOException(file + ": a " + format + " image; PNG and JPEG are read");
                long w, h;
                BufferedImage img;
                try {
                    w = reader.getWidth(0);
                    h = reader.getHeight(0);
                    if (w * h > maxPixels) {
                        throw new IllegalArgumentException(file + " is " + w + "x" + h + " pixels, more than the " + maxPixels
                                + " pixels this run can hold; make it smaller first");
                    }
                    // ImageIO decodes a cut-off JPEG with a warning and gray rows; Pillow refuses it ("image file is truncated")
                    List<String> warnings = new ArrayList<>();
                    reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
                    img = reader.read(0);
                    if (!warnings.isEmpty()) throw new IOException(String.join("; ", warnings));
                } catch (IOException | RuntimeException e) {
                    if (e instanceof IllegalArgumentException a && a.getMessage().startsWith(file.toString())) throw a;
                    // ImageIO reports a cut-off or damaged file in many ways (EOF, inflater, Huffman errors): one message for all
                    throw new IOException(file + ": unreadable or truncated image (" + e.getMessage() + ")", e);
                }
                return new Loaded(toRgb(file, img), sha);
            } finally {
                reader.dispose();
            }
        }
    }

    /**
     * A sample as Pillow makes it 8 bits: 16-bit colour keeps its high byte (PNG raw mode RGB;16B), while 16-bit
     * grayscale opens as an integer image whose conversion to RGB clips at 255.
     */
    private static int eightBits(int v, int bits, int colours) {
        if (bits <= 8) return v;
        return colours == 1 ? Math.min(v, 255) : v >> (bits - 8);
    }

    /** The 8-bit RGB samples of a decoded image, as Pillow's {@code convert("RGB")} gives them. */
    static RgbImage toRgb(Path file, BufferedImage img) {
        int w = img.getWidth(), h = img.getHeight();
        Raster r = img.getRaster();
        ColorModel cm = img.getColorModel();
        byte[] rgb = new byte[w * h * 3];
        if (cm instanceof IndexColorModel icm) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int i = r.getSample(x, y, 0), p = (y * w + x) * 3;
                    rgb[p] = (byte) icm.getRed(i);
                    rgb[p + 1] = (byte) icm.getGreen(i);
                    rgb[p + 2] = (byte) icm.getBlue(i);
                }
            }
            return new RgbImage(w, h, rgb);
        }
        int colours = cm.getNumColorComponents(), bits = cm.getComponentSize(0);
        if (colours != 1 && colours != 3) throw new IllegalArgumentException(file + ": an image with " + colours + " colour components (CMYK?); convert it to RGB");
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = (y * w + x) * 3;
                for (int c = 0; c < 3; c++) rgb[p + c] = (byte) eightBits(r.getSample(x, y, colours == 1 ? 0 : c), bits, colours);
            }
        }
        return new RgbImage(w, h, rgb);
    }
}
