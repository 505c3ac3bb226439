package fluxj.pipeline;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * PNG files with a {@code parameters} text chunk, as Stable Diffusion tools write and read it: a tEXt chunk when
 * the text is Latin-1, else an uncompressed UTF-8 iTXt chunk.
 */
public final class PngFiles {
    private static final String FORMAT = "javax_imageio_png_1.0";
    public static final String KEY = "parameters";

    private PngFiles() {}

    /** Writes {@code image} to {@code file} (replacing it) with {@code parameters} as its text chunk. */
    public static void write(Path file, RgbImage image, String parameters) throws IOException {
        byte[] png = encode(image, parameters);
        Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), ".fluxj-", ".png.part");
        try {
            Files.write(tmp, png);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The PNG file {@link #write} writes, as bytes (for stores other than a local folder, and for hashing). */
    public static byte[] encode(RgbImage image, String parameters) throws IOException {
        BufferedImage img = image.toBufferedImage();
        ImageWriter writer = ImageIO.getImageWritersByFormatName("png").next();
        try {
            IIOMetadata meta = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(img), writer.getDefaultWriteParam());
            IIOMetadataNode root = new IIOMetadataNode(FORMAT);
            if (StandardCharsets.ISO_8859_1.newEncoder().canEncode(parameters)) {
                IIOMetadataNode entry = new IIOMetadataNode("tEXtEntry");
                entry.setAttribute("keyword", KEY);
                entry.setAttribute("value", parameters);
                IIOMetadataNode text = new IIOMetadataNode("tEXt");
                text.appendChild(entry);
                root.appendChild(text);
            } else {
                IIOMetadataNode entry = new IIOMetadataNode("iTXtEntry");
                entry.setAttribute("keyword", KEY);
                entry.setAttribute("compressionFlag", "FALSE");
                entry.setAttribute("compressionMethod", "0");
                entry.setAttribute("languageTag", "");
                entry.setAttribute("translatedKeyword", "");
                entry.setAttribute("text", parameters);
                IIOMetadataNode text = new IIOMetadataNode("iTXt");
                text.appendChild(entry);
                root.appendChild(text);
            }
            meta.mergeTree(FORMAT, root);
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            try (ImageOutputStream out = new javax.imageio.stream.MemoryCacheImageOutputStream(bytes)) {
                writer.setOutput(out);
                writer.write(null, new IIOImage(img, null, meta), writer.getDefaultWriteParam());
            }
            return bytes.toByteArray();
        } finally {
            writer.dispose();
        }
    }

    /** The pixels of a PNG (or any image ImageIO reads) as 8-bit RGB. */
    public static RgbImage readImage(Path file) throws IOException {
        BufferedImage img = ImageIO.read(file.toFile());
        if (img == null) throw new IOException(file + ": not an image file ImageIO can read");
        return RgbImage.of(img);
    }

    /** The {@code parameters} text of a PNG (tEXt, zTXt or iTXt), if it has one. */
    public static Optional<String> readParameters(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new java.nio.file.NoSuchFileException(file.toString());
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            var readers = ImageIO.getImageReaders(in);
            if (in == null || !readers.hasNext()) throw new IOException(file + ": not a PNG image");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in);
                if (!"png".equalsIgnoreCase(reader.getFormatName())) throw new IOException(file + ": not a PNG image (" + reader.getFormatName() + ")");
                IIOMetadata meta = reader.getImageMetadata(0);
                IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree(FORMAT);
                for (String[] kind : new String[][]{{"tEXtEntry", "value"}, {"zTXtEntry", "text"}, {"iTXtEntry", "text"}}) {
                    var entries = root.getElementsByTagName(kind[0]);
                    for (int i = 0; i < entries.getLength(); i++) {
                        IIOMetadataNode e = (IIOMetadataNode) entries.item(i);
                        if (KEY.equals(e.getAttribute("keyword"))) return Optional.of(e.getAttribute(kind[1]));
                    }
                }
                return Optional.empty();
            } finally {
                reader.dispose();
            }
        } catch (javax.imageio.IIOException e) {
            throw new IOException(file + ": unreadable PNG (" + e.getMessage() + ")", e);
        }
    }
}
