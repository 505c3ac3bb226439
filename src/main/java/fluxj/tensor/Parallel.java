package fluxj.tensor;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;
import java.util.function.IntConsumer;

/**
 * Splits index ranges over the cores. Kernels call this; model code never spawns threads itself.
 *
 * <p>A pool of its own, one worker per core (the common pool keeps one core back for the caller, which would
 * leave half of a 2-core machine idle). The thread count is {@code -Dfluxj.threads=N} or all cores, and can be
 * changed with {@link #setThreads} (benchmarks measure 1 core and all cores).
 */
public final class Parallel {
    private static volatile ForkJoinPool pool = newPool(Integer.getInteger("fluxj.threads",
            Runtime.getRuntime().availableProcessors()));

    private Parallel() {}

    public static int threads() { return pool.getParallelism(); }

    /** Uses {@code n} worker threads from now on (at least 1). */
    public static synchronized void setThreads(int n) {
        if (n == threads()) return;
        ForkJoinPool old = pool;
        pool = newPool(n);
        old.shutdown();
    }

    /** Runs body(i) for i in [0, n), spread over the pool; returns when all are done. */
    public static void forEach(int n, IntConsumer body) {
        if (n <= 0) return;
        ForkJoinPool p = pool;
        if (n == 1 || p.getParallelism() == 1) {
            for (int i = 0; i < n; i++) body.accept(i);
            return;
        }
        p.invoke(new Range(0, n, body));
    }

    private static ForkJoinPool newPool(int n) {
        return new ForkJoinPool(Math.max(1, n), ForkJoinPool.defaultForkJoinWorkerThreadFactory, null, false);
    }

    private static final class Range extends RecursiveAction {
        private final int lo, hi;
        private final IntConsumer body;

        Range(int lo, int hi, IntConsumer body) { this.lo = lo; this.hi = hi; this.body = body; }

        @Override
        protected void compute() {
            if (hi - lo == 1) { body.accept(lo); return; }
            int mid = (lo + hi) >>> 1;
            invokeAll(new Range(lo, mid, body), new Range(mid, hi, body));
        }
    }
}
