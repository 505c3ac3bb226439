package fluxj.testing;

import fluxj.tensor.onednn.OneDnnLibrary;
import org.junit.jupiter.api.Assumptions;

/** The oneDNN library for tests of the {@code --matmul onednn} paths. */
public final class OneDnn {
    private OneDnn() {}

    /**
     * Returns when oneDNN loads. As with the fixtures: without it the test is skipped on a developer machine with a
     * message naming {@code what} was not tested and why, and fails under CI, which installs the library.
     */
    public static void require(String what) {
        if (OneDnnLibrary.found() instanceof OneDnnLibrary.Missing m) {
            String msg = what + " not tested: " + m.reason();
            if (System.getenv("CI") != null) throw new AssertionError(msg);
            Assumptions.abort(msg);
        }
    }
}
