package fluxj.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** What Pillow reads from JPEG and WebP files: their pixels and the EXIF UserComment as A1111 reads it. */
public final class PillowExif {
    /**
     * For every .jpg and .webp in a folder: its RGB bytes, and the UserComment of its Exif IFD decoded as piexif's
     * {@code UserComment.load} decodes A1111's ("UNICODE\0" then UTF-16BE; any other header fails).
     */
    private static final String READ = """
            import sys, os
            from PIL import Image
            d = sys.argv[1]
            for f in sorted(os.listdir(d)):
                if f.endswith('.jpg') or f.endswith('.webp'):
                    p = os.path.join(d, f)
                    im = Image.open(p)
                    im.load()
                    open(p + '.rgb', 'wb').write(im.convert('RGB').tobytes())
                    c = im.getexif().get_ifd(0x8769).get(0x9286)
                    if c is not None:
                        assert c[:8] == b'UNICODE\\x00', (f, c[:8])
                        open(p + '.txt', 'wb').write(c[8:].decode('utf-16-be').encode('utf-8'))
            """;

    private PillowExif() {}

    /** A file as Pillow read it: its pixels and its UserComment text (empty when it has none). */
    public record Read(byte[] rgb, Optional<String> comment) {}

    public static Map<String, Read> read(Path dir) throws IOException, InterruptedException {
        Pillow.run(READ, dir);
        Map<String, Read> out = new LinkedHashMap<>();
        try (var files = Files.list(dir)) {
            for (Path p : files.sorted().toList()) {
                String n = p.getFileName().toString();
                if (!n.endsWith(".jpg") && !n.endsWith(".webp")) continue;
                Path txt = dir.resolve(n + ".txt");
                out.put(n, new Read(Files.readAllBytes(dir.resolve(n + ".rgb")),
                        Files.exists(txt) ? Optional.of(Files.readString(txt, StandardCharsets.UTF_8)) : Optional.empty()));
            }
        }
        return out;
    }
}
