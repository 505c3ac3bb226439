package fluxj.bench;

import fluxj.cli.Main;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PeaksTest {
    @Test
    void parsesTheProbesLines() throws IOException {
        Peaks p = Peaks.parse("f32_fma 300.5 320.0 vfmadd231ps-zmm\nbf16_dot 480.0 500.0 vdpbf16ps-zmm\n"
                + "amx_bf16 - no AMX-BF16 on this CPU\n", "test", null);
        assertEquals(320.0, p.f32().cpuGflops());
        assertEquals(300.5, p.f32().gflops());
        assertEquals("vdpbf16ps-zmm", p.bf16().instruction());
        assertFalse(p.amxBf16().present());
        assertEquals("no AMX-BF16 on this CPU", p.amxBf16().absent());
        assertEquals(0.5, Peaks.fraction(250, p.bf16()), 1e-12);
    }

    @Test
    void theBf16LimitIsTheFasterBf16Instruction() throws IOException {
        Peaks p = Peaks.parse("f32_fma 300 320 a\nbf16_dot 130 140 b\namx_bf16 2000 5000 c\n", "test", null);
        assertEquals("c", p.bf16().instruction());
        assertEquals("c", p.limit(true).instruction());
        assertEquals("a", p.limit(false).instruction());
        Peaks none = Peaks.parse("f32_fma 300 320 a\nbf16_dot - no AVX512_BF16 on this CPU\n", "test", null);
        assertFalse(none.bf16().present());
        assertTrue(Double.isNaN(Peaks.fraction(100, none.bf16())));
    }

    @Test
    void garbageIsAnError() {
        assertThrows(IOException.class, () -> Peaks.parse("segmentation fault\n", "test", null));
        assertThrows(IOException.class, () -> Peaks.parse("f32_fma abc def x\n", "test", null));
    }

    @Test
    void theProbeCompilesAndMeasuresWhereACompilerExists() {
        Assumptions.assumeTrue(Peaks.compiler() != null, "no C compiler on the PATH: the bench falls back to GEMM rates");
        Peaks p = Peaks.get();
        assertTrue(p.method().startsWith("register-only"), p.method());
        assertTrue(p.f32().present() && p.f32().cpuGflops() > 0 && p.f32().gflops() > 0, p.toMap().toString());
        assertTrue(p.load().wallSeconds() > 0);
        assertEquals(0, Main.execute("bench", "peak", "--help"));
    }
}
