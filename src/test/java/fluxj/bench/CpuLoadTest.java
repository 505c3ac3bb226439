package fluxj.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CpuLoadTest {
    @Test
    void busyTicksAreEverythingButIdleAndIowait() {
        // user nice system idle iowait irq softirq steal guest guest_nice: guest is already inside user.
        String stat = "cpu  100 2 30 5000 40 5 6 7 50 0\ncpu0 50 1 15 2500 20 2 3 3 25 0\n";
        assertEquals(100 + 2 + 30 + 5 + 6 + 7, CpuLoad.busyTicks(stat));
        assertEquals(-1, CpuLoad.busyTicks("intr 1 2 3"));
        assertEquals(-1, CpuLoad.busyTicks(null));
    }

    @Test
    void selfTicksCountChildrenAndSurviveSpacesInTheName() {
        String stat = "4242 (java main) S 1 4242 4242 0 -1 4194560 100 0 0 0 700 80 12 3 20 0 30 0 123 456";
        assertEquals(700 + 80 + 12 + 3, CpuLoad.selfTicks(stat));
        assertEquals(-1, CpuLoad.selfTicks("4242 (java) S 1"));
    }

    @Test
    void othersAreTheBusyTimeThisProcessDidNotTake() {
        CpuLoad.Interval i = CpuLoad.between(new CpuLoad.Mark(0, 1000, 300), new CpuLoad.Mark(2_000_000_000L, 1350, 500), 2);
        assertEquals(2.0, i.wallSeconds(), 1e-12);
        assertEquals(2.0, i.selfCpuSeconds(), 1e-12);
        assertEquals(1.5, i.othersCpuSeconds(), 1e-12);
        assertEquals(0.375, i.othersShare(), 1e-12);
        assertTrue(i.describe().contains("others 1.5 CPU-s in 2.0 s (37.5% of 2 cores)"), i.describe());
        // Tick rounding can put our own time a tick above the total: never negative.
        assertEquals(0, CpuLoad.between(new CpuLoad.Mark(0, 10, 10), new CpuLoad.Mark(1, 10, 11), 2).othersCpuSeconds());
        CpuLoad.Interval unknown = CpuLoad.between(new CpuLoad.Mark(0, -1, 5), new CpuLoad.Mark(1, 10, 6), 2);
        assertFalse(unknown.known());
        assertTrue(unknown.describe().contains("unknown"));
    }

    @Test
    void aRealIntervalIsReadFromProc() {
        CpuLoad.Interval i = CpuLoad.since(CpuLoad.mark());
        assertTrue(i.wallSeconds() >= 0);
        if (i.known()) assertTrue(i.othersCpuSeconds() >= 0 && i.selfCpuSeconds() >= 0);
    }
}
