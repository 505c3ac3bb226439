package fluxj.server;

import fluxj.condition.ImageCondition;
import fluxj.condition.SourceImage;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;

/**
 * Input images of requests (img2img, masks, references, control maps): each is saved under the journal's
 * {@code inputs} folder before its job is accepted, so that a resumed job finds it, and read from there as the CLI
 * reads {@code --init-image} files (PNG or JPEG, Pillow's conversions). A bad one is a 400 naming its field.
 */
final class Uploads {
    private static final SecureRandom RANDOM = new SecureRandom();
    private final Path dir;
    private final long maxPixels;

    Uploads(Path dir, long maxPixels) throws IOException {
        this.dir = Files.createDirectories(dir).toRealPath();
        this.maxPixels = maxPixels;
    }

    /** The image in {@code bytes} (a file's content), saved and read; {@code field} names it in errors. */
    SourceImage save(String field, byte[] bytes) throws IOException {
        if (bytes.length == 0) throw ApiException.invalid(field, "is empty; a PNG or JPEG image was expected");
        byte[] name = new byte[8];
        RANDOM.nextBytes(name);
        Path file = dir.resolve(HexFormat.of().formatHex(name) + ".img");
        Path tmp = Files.createTempFile(dir, ".upload-", ".part");
        try {
            Files.write(tmp, bytes);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        try {
            return SourceImage.read(file, maxPixels);
        } catch (IOException | IllegalArgumentException e) {
            Files.deleteIfExists(file);
            String m = e.getMessage() == null ? e.toString() : e.getMessage();
            throw ApiException.invalid(field, m.replace(file.toString(), "the image"));
        }
    }

    /** Deletes the saved input images of a condition of a refused request. */
    void forget(ImageCondition c) {
        List<SourceImage> images = switch (c) {
            case ImageCondition.InitImage i -> List.of(i.image());
            case ImageCondition.Inpaint i -> List.of(i.image(), i.mask());
            case ImageCondition.Fill f -> List.of(f.image(), f.mask());
            case ImageCondition.Outpaint o -> List.of(o.image());
            case ImageCondition.Reference r -> List.of(r.image());
            case ImageCondition.Control k -> List.of(k.image());
        };
        images.forEach(this::forget);
    }

    /** Deletes a saved input image (only files of the inputs folder). */
    void forget(SourceImage s) {
        if (s.name() == null) return;
        Path p = Path.of(s.name());
        if (!dir.equals(p.getParent())) return;
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            System.getLogger(Uploads.class.getName()).log(System.Logger.Level.WARNING, "cannot delete " + p + ": " + e.getMessage());
        }
    }

    /** Base64 image data, bare or as a {@code data:image/...;base64,} URL (A1111 clients send both). */
    static byte[] base64(String field, String value) {
        String v = value.strip();
        if (v.startsWith("data:")) {
            int comma = v.indexOf(',');
            if (comma < 0 || !v.substring(0, comma).endsWith(";base64")) throw ApiException.invalid(field, "a data URL must be base64 encoded");
            v = v.substring(comma + 1);
        }
        try {
            return Base64.getMimeDecoder().decode(v);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(field, "is not base64 image data (" + e.getMessage() + ")");
        }
    }

    /**
     * An OpenAI edits mask: its fully transparent pixels are where to edit. As fluxj reads masks (white = repaint),
     * that is white where alpha is 0 and black elsewhere; a mask without alpha is read as it is.
     */
    SourceImage saveOpenAiMask(String field, byte[] bytes) throws IOException {
        BufferedImage img;
        try {
            img = ImageIO.read(new ByteArrayInputStream(bytes));
        } catch (IOException e) {
            throw ApiException.invalid(field, "unreadable image (" + e.getMessage() + ")");
        }
        if (img == null || !img.getColorModel().hasAlpha()) return save(field, bytes);
        if ((long) img.getWidth() * img.getHeight() > maxPixels) throw ApiException.invalid(field, "is larger than " + maxPixels + " pixels");
        BufferedImage mask = new BufferedImage(img.getWidth(), img.getHeight(), BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                boolean transparent = (img.getRGB(x, y) >>> 24) == 0;
                mask.getRaster().setSample(x, y, 0, transparent ? 255 : 0);
            }
        }
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(mask, "png", png);
        return save(field, png.toByteArray());
    }
}
