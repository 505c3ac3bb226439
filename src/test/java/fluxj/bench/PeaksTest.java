package fluxj.bench;

import fluxj.cli.Main;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PeaksTest {
    @Test
    void parsesTheProbesLines() throws IOException {
        Peaks p = Peaks.parse("f32_fma 300.5 320.0 vfmadd231ps-zmm\nbf16_dot 480.0 500.0 vdpbf16ps-zmm\n"
                + "amx_bf16 - no AMX-BF16 on this CPU\n", "test", null);
        assertEquals(320.0, p.f32().cpuGflops());
        assertEquals(300.5, p.f32().gflops());
        assertEquals("vdpbf16ps-zmm", p.bf16Dot().instruction());
        assertFalse(p.amxBf16().present());
        assertEquals("no AMX-BF16 on this CPU", p.amxBf16().absent());
        assertEquals(0.5, Peaks.fraction(250, p.bf16Dot()), 1e-12);
    }

    @Test
    void aRepeatedProbeKeepsTheHigherReadingPerInstruction() {
        Peaks.Peak slow = new Peaks.Peak("x", 90, 100, null), fast = new Peaks.Peak("x", 120, 130, null), absent = Peaks.Peak.missing("none");
        assertEquals(fast, Peaks.higher(slow, fast));
        assertEquals(fast, Peaks.higher(fast, slow));
        assertEquals(slow, Peaks.higher(absent, slow));
        assertEquals(slow, Peaks.higher(slow, absent));
    }

    @Test
    void withoutOneDnnKernelsTheBf16LimitIsTheFasterBf16Instruction() throws IOException {
        Peaks p = Peaks.parse("f32_fma 300 320 a\nbf16_dot 130 140 b\namx_bf16 2000 5000 c\n", "test", null);
        Peaks.Limit l = Peaks.bf16Limit(List.of(), null, p.bf16Dot(), p.amxBf16());
        assertEquals("c", l.peak().instruction());
        assertTrue(l.reason().contains("no oneDNN kernel"), l.reason());
        Peaks none = Peaks.parse("f32_fma 300 320 a\nbf16_dot - no AVX512_BF16 on this CPU\n", "test", null);
        assertFalse(Peaks.bf16Limit(List.of(), null, none.bf16Dot(), none.amxBf16()).peak().present());
        assertTrue(Double.isNaN(Peaks.fraction(100, none.bf16Dot())));
        assertEquals("a", p.limit(false).instruction());
    }

    @Test
    void theBf16LimitIsThePeakOfTheInstructionTheKernelsRun() throws IOException {
        Peaks p = Peaks.parse("f32_fma 300 320 a\nbf16_dot 130 140 b\namx_bf16 2000 5000 c\n", "test", null);
        // oneDNN capped to AVX512_BF16 (or a Zen 4/5 CPU): its brgemm kernels run vdpbf16ps, so AMX's peak is not theirs.
        Peaks.Limit capped = Peaks.bf16Limit(List.of("brg:avx512_core_bf16", "brgconv:avx512_core_bf16"),
                "ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16", p.bf16Dot(), p.amxBf16());
        assertEquals("b", capped.peak().instruction());
        assertTrue(capped.reason().contains("no AMX") && capped.reason().contains("ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16"), capped.reason());
        assertEquals(p.amxBf16(), p.amxBeside(capped.peak()));
        // One AMX kernel among others (oneDNN 2.x and 3.x spell it differently) makes AMX the limit.
        for (String amx : List.of("brg:avx512_core_amx_bf16", "brg_matmul:avx10_1_512_amx", "brgconv:AVX512_CORE_AMX")) {
            Peaks.Limit l = Peaks.bf16Limit(List.of("gemm:jit", amx), null, p.bf16Dot(), p.amxBf16());
            assertEquals("c", l.peak().instruction(), amx);
            assertTrue(l.reason().contains(amx), l.reason());
            assertNull(p.amxBeside(l.peak()));
        }
        // A slower AMX would not change that: the kernels' instruction decides, not the faster peak.
        Peaks slowAmx = Peaks.parse("f32_fma 300 320 a\nbf16_dot 900 910 b\namx_bf16 100 110 c\n", "test", null);
        assertEquals("c", Peaks.bf16Limit(List.of("brg:avx512_core_amx_bf16"), null, slowAmx.bf16Dot(), slowAmx.amxBf16()).peak().instruction());
        assertEquals("b", Peaks.bf16Limit(List.of("brg:avx512_core_bf16"), null, slowAmx.bf16Dot(), slowAmx.amxBf16()).peak().instruction());
        // A peak the probe could not measure gives way to the other, saying so.
        Peaks noAmx = Peaks.parse("f32_fma 300 320 a\nbf16_dot 130 140 b\namx_bf16 - the kernel refuses AMX tile state\n", "test", null);
        Peaks.Limit l = Peaks.bf16Limit(List.of("brg:avx512_core_amx_bf16"), null, noAmx.bf16Dot(), noAmx.amxBf16());
        assertEquals("b", l.peak().instruction());
        assertTrue(l.reason().contains("refuses"), l.reason());
        assertNull(noAmx.amxBeside(l.peak()));
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
        // Probing again runs the probe compiled the first time: a reading of its own, the highest kept.
        Peaks again = Peaks.probeAgain();
        assertTrue(again.method().startsWith("register-only") && again.f32().cpuGflops() > 0, again.method());
        assertTrue(Peaks.get().f32().cpuGflops() >= again.f32().cpuGflops());
        assertTrue(Peaks.get().method().endsWith("probes"), Peaks.get().method());
        assertEquals(0, Main.execute("bench", "peak", "--help"));
    }
}
