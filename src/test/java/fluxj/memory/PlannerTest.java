package fluxj.memory;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class PlannerTest {
    static final long G = 1L << 30, M = 1L << 20;
    static final Device CPU = new Device.Cpu(24 * G);

    // Real FLUX.1-schnell component sizes (BF16 transformer 23.8 GB over 57 blocks, F16 T5-XXL 9.5 GB).
    static final Component CLIP = new Component("clip-l", Phase.ENCODE, 246 * M, "F16", 123_000_000L, 20 * M, 0, 0, 0, false);
    static final Component T5 = new Component("t5xxl", Phase.ENCODE, 9_524 * M, "F16", 4_760_000_000L, 300 * M, 0, 0, 0, false);
    static final Component FLUX = new Component("transformer", Phase.DENOISE, 23_800 * M, "BF16", 11_900_000_000L,
            600 * M, 405 * M, 57, 57 * 405 * M, true);
    static final Component VAE = new Component("vae", Phase.DECODE, 160 * M, "F32", 83_000_000L, 1_500 * M, 0, 0, 0, false);
    static final List<Component> ALL = List.of(CLIP, T5, FLUX, VAE);

    @Test
    void everythingKeptWhenItFits() {
        List<Component> small = List.of(
                new Component("clip-l", Phase.ENCODE, 100 * M, "F16", 50_000_000L, 10 * M, 0, 0, 0, false),
                new Component("transformer", Phase.DENOISE, 2 * G, "BF16", 1_000_000_000L, 200 * M, 100 * M, 10, 10 * 100 * M, true));
        MemoryPlan p = Planner.plan(CPU, 8 * G, small, WeightDtype.STORED, false);
        assertTrue(p.keepAll());
        assertTrue(p.fits());
        assertEquals(Planner.JVM_BASELINE + 100 * M + 2 * G + 200 * M, p.peak());
        p.entries().forEach(e -> assertEquals(MemoryPlan.Residency.RESIDENT, e.residency()));
    }

    @Test
    void fullSizeFluxUnder16GStreamsTheTransformerAndReleasesInTurn() {
        MemoryPlan p = Planner.plan(CPU, 16 * G, ALL, WeightDtype.STORED, false);
        assertTrue(p.fits(), p::render);
        assertFalse(p.keepAll());
        MemoryPlan.Entry flux = p.entry("transformer");
        assertEquals(MemoryPlan.Residency.STREAMED, flux.residency());
        assertEquals(WeightDtype.STORED, flux.dtype());
        // 23.8 GB - 57 blocks of 405 MB leaves 715 MB of embeddings/final layer, plus 2 blocks in flight.
        assertEquals(23_800 * M - 57 * 405 * M + 2 * 405 * M, flux.residentBytes());
        assertEquals(MemoryPlan.Residency.RESIDENT, p.entry("t5xxl").residency());
        assertEquals(Planner.JVM_BASELINE + 246 * M + 9_524 * M + 300 * M, p.phasePeaks().get(Phase.ENCODE));
        assertTrue(p.render().contains("streamed (2 of 57 blocks resident)"), p::render);
    }

    @Test
    void fp8HalvesTheTransformerWhenAsked() {
        MemoryPlan p = Planner.plan(CPU, 24 * G, List.of(FLUX), WeightDtype.FP8, true);
        MemoryPlan.Entry e = p.entry("transformer");
        assertEquals(WeightDtype.FP8, e.dtype());
        assertEquals(23_800 * M - 11_900_000_000L, e.residentBytes());
        assertEquals(MemoryPlan.Residency.RESIDENT, e.residency());
    }

    @Test
    void fp8ChosenAutomaticallyOnlyWhenStoredCannotFitAndTheUserDidNotChoose() {
        Component unstreamable = new Component("transformer", Phase.DENOISE, 23_800 * M, "BF16", 11_900_000_000L, 600 * M, 0, 0, 0, true);
        MemoryPlan auto = Planner.plan(CPU, 14 * G, List.of(unstreamable), WeightDtype.STORED, false);
        assertTrue(auto.fits(), auto::render);
        assertEquals(WeightDtype.FP8, auto.entry("transformer").dtype());
        MemoryPlan explicit = Planner.plan(CPU, 14 * G, List.of(unstreamable), WeightDtype.STORED, true);
        assertFalse(explicit.fits());
        assertEquals(WeightDtype.STORED, explicit.entry("transformer").dtype());
    }

    @Test
    void impossibleBudgetSaysWhatWouldFit() {
        MemoryPlan p = Planner.plan(CPU, 4 * G, ALL, WeightDtype.STORED, true);
        assertFalse(p.fits());
        String text = p.render();
        assertTrue(text.contains("DOES NOT FIT"), text);
        assertTrue(p.advice().stream().anyMatch(a -> a.contains("DistillT5")), text);
        assertTrue(p.advice().stream().anyMatch(a -> a.contains("--memory-budget")), text);
        assertTrue(p.advice().stream().anyMatch(a -> a.contains("--weight-dtype fp8")), text);
    }

    @Test
    void hugeActivationsSuggestASmallerImage() {
        Component vae = new Component("vae", Phase.DECODE, 160 * M, "F32", 83_000_000L, 20 * G, 0, 0, 0, false);
        MemoryPlan p = Planner.plan(CPU, 8 * G, List.of(vae), WeightDtype.STORED, false);
        assertFalse(p.fits());
        assertTrue(p.advice().stream().anyMatch(a -> a.contains("--width/--height")), p::render);
    }

    @Test
    void defaultBudgetLeavesHeadroom() {
        assertEquals(21 * G, new Device.Cpu(24 * G).defaultBudget());
        assertEquals(6 * G, new Device.Cpu(8 * G).defaultBudget());
    }

    @Test
    void byteSizes() {
        assertEquals(16 * G, ByteSize.parse("16G"));
        assertEquals(512 * M, ByteSize.parse("512m"));
        assertEquals(3 * G / 2, ByteSize.parse("1.5GiB"));
        assertEquals(1000, ByteSize.parse("1000"));
        assertEquals("16.0 GiB", ByteSize.format(16 * G));
        for (String bad : new String[]{"", "G", "-1G", "12Q", "lots", "0"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ByteSize.parse(bad));
            assertTrue(e.getMessage().contains("16G") || e.getMessage().contains("range"), e.getMessage());
        }
        assertEquals(WeightDtype.FP8, WeightDtype.parse("fp8"));
        assertThrows(IllegalArgumentException.class, () -> WeightDtype.parse("int4"));
    }
}
