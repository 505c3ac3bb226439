package fluxj.server;

import fluxj.image.WebpLossless;
import fluxj.pipeline.PngFiles;
import fluxj.pipeline.RgbImage;

import javax.imageio.ImageIO;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/** A finished PNG output in the format a client asked for: the PNG itself, or a JPEG or lossless WebP beside it. */
final class OutputFiles {
    private OutputFiles() {}

    /** "png", "jpeg" or "webp" for a client's name of a format (jpg is jpeg), or null for others. */
    static String format(String name) {
        return switch (name == null ? "" : name.toLowerCase(Locale.ROOT)) {
            case "png" -> "png";
            case "jpg", "jpeg" -> "jpeg";
            case "webp" -> "webp";
            default -> null;
        };
    }

    /** The name of {@code png} in {@code format} in {@code dir}, converted once (temp file + rename) when not PNG. */
    static String as(Path dir, String png, String format) throws IOException {
        if (format.equals("png")) return png;
        String name = png.substring(0, png.length() - 4) + (format.equals("webp") ? ".webp" : ".jpg");
        Path file = dir.resolve(name);
        if (Files.isRegularFile(file)) return name;
        RgbImage img = PngFiles.readImage(dir.resolve(png));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        if (format.equals("webp")) bytes.writeBytes(WebpLossless.encode(img));
        else ImageIO.write(img.toBufferedImage(), "jpeg", bytes);
        Path tmp = Files.createTempFile(dir, ".fluxj-", ".part");
        try {
            Files.write(tmp, bytes.toByteArray());
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return name;
    }
}
