package fluxj.tensor;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ParallelTest {
    @Test
    void everyIndexRunsOnceForAnyThreadCount() {
        int before = Parallel.threads();
        try {
            for (int threads : new int[] {1, 3}) {
                Parallel.setThreads(threads);
                assertEquals(threads, Parallel.threads());
                for (int n : new int[] {0, 1, 2, 7, 1000}) {
                    AtomicIntegerArray hits = new AtomicIntegerArray(Math.max(n, 1));
                    Parallel.forEach(n, hits::incrementAndGet);
                    for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "index " + i + " of " + n + " with " + threads + " threads");
                }
            }
        } finally {
            Parallel.setThreads(before);
        }
    }

    @Test
    void nestedLoopsComplete() {
        AtomicIntegerArray hits = new AtomicIntegerArray(64);
        Parallel.forEach(8, i -> Parallel.forEach(8, j -> hits.incrementAndGet(i * 8 + j)));
        for (int i = 0; i < 64; i++) assertEquals(1, hits.get(i));
    }
}
