package fluxj.tensor.onednn;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The --matmul choice for every mode against a present, a CPU-limited and an absent oneDNN. */
class MatmulBackendTest {
    private static final OneDnnLibrary.Missing MISSING = new OneDnnLibrary.Missing("no oneDNN library found");
    private static final OneDnnLibrary.Loaded FAST = new OneDnnLibrary.Loaded("libdnnl.so.2", "2.6.3", "brg:avx512_core_bf16", true, "CPU has avx512_bf16", null);
    private static final OneDnnLibrary.Loaded SLOW = new OneDnnLibrary.Loaded("libdnnl.so.2", "2.6.3", "gemm:jit", false, "CPU lacks avx512_bf16 and amx_bf16", null);

    @Test
    void javaNeverLooksForTheLibrary() {
        MatmulBackend.Choice c = MatmulBackend.choose("java", () -> fail("java mode looked for oneDNN"));
        assertEquals(MatmulBackend.JAVA, c.backend());
    }

    @Test
    void autoTakesOneDnnOnlyWithBf16DotProducts() {
        assertEquals(MatmulBackend.ONEDNN, MatmulBackend.choose("auto", () -> FAST).backend());
        MatmulBackend.Choice slow = MatmulBackend.choose("AUTO", () -> SLOW);
        assertEquals(MatmulBackend.JAVA, slow.backend());
        assertTrue(slow.reason().contains("lacks avx512_bf16"), slow.reason());
        MatmulBackend.Choice missing = MatmulBackend.choose("auto", () -> MISSING);
        assertEquals(MatmulBackend.JAVA, missing.backend());
        assertFalse(missing.downgraded());
    }

    @Test
    void onednnFallsBackLoudlyWhenMissing() {
        MatmulBackend.Choice c = MatmulBackend.choose("onednn", () -> MISSING);
        assertEquals(MatmulBackend.JAVA, c.backend());
        assertTrue(c.downgraded());
        assertTrue(c.reason().contains("no oneDNN library found"), c.reason());
        MatmulBackend.Choice emulated = MatmulBackend.choose("onednn", () -> SLOW);
        assertEquals(MatmulBackend.ONEDNN, emulated.backend());
        assertTrue(emulated.reason().contains("emulated"), emulated.reason());
    }

    @Test
    void badModeIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MatmulBackend.choose("mkl", () -> FAST));
        assertTrue(e.getMessage().contains("java, onednn or auto"), e.getMessage());
    }

    @Test
    void badCommandLineValueIsAUsageError() {
        assertEquals(2, fluxj.cli.Main.execute("--matmul", "mkl", "bench"));
    }

    @Test
    void cpuFlags() {
        assertTrue(OneDnnLibrary.fromFlags(" fpu avx512f avx512_bf16 avx512_vnni").bf16());
        assertTrue(OneDnnLibrary.fromFlags("fpu amx_bf16 amx_tile").bf16());
        assertFalse(OneDnnLibrary.fromFlags("fpu avx2 avx512f avx512_bf16x").bf16());
    }

    @Test
    void libraryCandidates() {
        assertEquals(List.of("/x/libdnnl.so.3"), OneDnnLibrary.candidates(Map.of("FLUXJ_ONEDNN", "/x/libdnnl.so.3"), "Linux"));
        assertEquals(List.of("libdnnl.so.3", "libdnnl.so.2", "libdnnl.so"), OneDnnLibrary.candidates(Map.of(), "Linux").subList(0, 3));
        assertEquals("/opt/homebrew/lib/libdnnl.dylib", OneDnnLibrary.candidates(Map.of(), "Mac OS X").getFirst());
    }

    @Test
    void aMissingExplicitLibraryIsNamed() {
        OneDnnLibrary.Found f = OneDnnLibrary.search(Map.of("FLUXJ_ONEDNN", "/nonexistent/libdnnl.so.2"), "Linux");
        OneDnnLibrary.Missing m = assertInstanceOf(OneDnnLibrary.Missing.class, f);
        assertTrue(m.reason().contains("/nonexistent/libdnnl.so.2") && m.reason().contains("FLUXJ_ONEDNN"), m.reason());
    }
}
