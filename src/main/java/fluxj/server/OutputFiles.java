package fluxj.server;

import fluxj.image.Exif;
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
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A finished PNG output in the format a client asked for: the PNG itself, or a JPEG or lossless WebP beside it,
 * carrying the PNG's parameters text as EXIF UserComment as AUTOMATIC1111 writes it.
 */
final class OutputFiles {
    /** Converted files this process made or found carrying their parameters: served again without reading them. */
    private static final Set<Path> CURRENT = ConcurrentHashMap.newKeySet();

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

    /**
     * The name of {@code png} in {@code format} in {@code dir}, converted once (temp file + rename) when not PNG. A
     * converted file already there is kept when it carries the PNG's parameters as this version writes them, else
     * made again (one written by a version without EXIF, or for other parameters).
     */
    static String as(Path dir, String png, String format) throws IOException {
        if (format.equals("png")) return png;
        String name = png.substring(0, png.length() - 4) + (format.equals("webp") ? ".webp" : ".jpg");
        Path file = dir.resolve(name).toAbsolutePath();
        if (CURRENT.contains(file) && Files.isRegularFile(file)) return name;
        byte[] exif = PngFiles.readParameters(dir.resolve(png)).map(Exif::userComment).orElse(null);
        boolean carried = exif != null && (format.equals("webp") || Exif.fitsJpeg(exif));
        if (Files.isRegularFile(file) && (!carried || contains(Files.readAllBytes(file), exif))) {
            CURRENT.add(file);
            return name;
        }
        RgbImage img = PngFiles.readImage(dir.resolve(png));
        byte[] bytes;
        if (format.equals("webp")) {
            bytes = WebpLossless.encode(img, exif);
        } else {
            ByteArrayOutputStream jpeg = new ByteArrayOutputStream();
            ImageIO.write(img.toBufferedImage(), "jpeg", jpeg);
            bytes = jpeg.toByteArray();
            byte[] tagged = exif == null ? null : Exif.intoJpeg(bytes, exif);
            if (tagged != null) bytes = tagged;
            else if (exif != null) System.getLogger(OutputFiles.class.getName()).log(System.Logger.Level.WARNING,
                    name + ": the parameters are too long for a JPEG's EXIF segment and are left out (the PNG has them)");
        }
        Path tmp = Files.createTempFile(dir, ".fluxj-", ".part");
        try {
            Files.write(tmp, bytes);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        CURRENT.add(file);
        return name;
    }

    /** Whether {@code part} occurs in {@code data}. */
    private static boolean contains(byte[] data, byte[] part) {
        outer:
        for (int i = 0; i + part.length <= data.length; i++) {
            for (int j = 0; j < part.length; j++) if (data[i + j] != part[j]) continue outer;
            return true;
        }
        return false;
    }
}
