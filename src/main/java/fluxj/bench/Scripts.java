package fluxj.bench;

import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The helper programs of the benchmarks, in the project's {@code scripts/} folder. */
final class Scripts {
    private Scripts() {}

    /** scripts/{@code name} beside the jar's project folder (target/fluxj.jar -> ../scripts), or in the working folder; null if neither. */
    static Path find(String name) {
        List<Path> candidates = new ArrayList<>();
        try {
            Path jar = Path.of(Scripts.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (jar.getParent() != null && jar.getParent().getParent() != null) {
                candidates.add(jar.getParent().getParent().resolve("scripts").resolve(name));
            }
        } catch (URISyntaxException | SecurityException | UncheckedIOException e) {
            // no code source: only the working folder is tried
        }
        candidates.add(Path.of("scripts").resolve(name));
        for (Path c : candidates) if (Files.isRegularFile(c)) return c.toAbsolutePath();
        return null;
    }
}
