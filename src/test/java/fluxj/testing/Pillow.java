package fluxj.testing;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a Python script with Pillow, the reference's image library, as the oracle for image reading and resizing.
 * Without a Python that imports PIL a test is skipped saying so, except under CI (env CI set), which installs
 * it ({@code .ci/run}: Debian's python3-pil) and where its absence is a failure.
 */
public final class Pillow {
    private static final List<String> PYTHONS = List.of("/usr/bin/python3", "python3");
    private static String python;

    private Pillow() {}

    private static synchronized String python() {
        if (python != null) return python;
        for (String p : PYTHONS) {
            try {
                Process pr = new ProcessBuilder(p, "-c", "import PIL, numpy").redirectErrorStream(true).start();
                if (pr.waitFor(60, TimeUnit.SECONDS) && pr.exitValue() == 0) return python = p;
            } catch (IOException | InterruptedException e) {
                // try the next one
            }
        }
        String msg = "no python3 with Pillow and numpy (Debian: apt-get install python3-pil python3-numpy); the Pillow oracle tests need it";
        if (System.getenv("CI") != null) throw new AssertionError(msg);
        Assumptions.abort(msg);
        return null;
    }

    /** Runs {@code script} with {@code args}; fails with its output when it does not exit 0. */
    public static String run(String script, Path... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(python(), "-c", script));
        for (Path a : args) cmd.add(a.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) throw new AssertionError("python failed: " + out);
        return out;
    }
}
