package fluxj.testing;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates the team's shared fixtures ({@code ../shared/fixtures} beside the checkout). When they are absent a
 * test is skipped with a message saying so, except under CI (env CI set), where their absence is a failure.
 */
public final class Fixtures {
    private Fixtures() {}

    public static Path root() {
        Path p = Path.of(System.getProperty("fluxj.fixtures", "../shared/fixtures")).toAbsolutePath().normalize();
        if (!Files.isRegularFile(p.resolve("cases.json"))) {
            String msg = "shared fixtures not found at " + p + " (expected ../shared/fixtures beside the checkout)";
            if (System.getenv("CI") != null) throw new AssertionError(msg);
            Assumptions.abort(msg);
        }
        return p;
    }

    public static Path path(String relative) { return root().resolve(relative); }

    public static Path model(String relative) { return root().resolve("models").resolve(relative); }

    public static Path caseDir(String id) { return root().resolve("cases").resolve(id); }
}
