package fluxj.tensor;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;
import java.util.function.IntConsumer;

/** Splits index ranges over the cores. Kernels call this; model code never spawns threads itself. */
public final class Parallel {
    private static final ForkJoinPool POOL = ForkJoinPool.commonPool();

    private Parallel() {}

    public static int threads() { return Math.max(1, POOL.getParallelism()); }

    /** Runs body(i) for i in [0, n), spread over the pool; returns when all are done. */
    public static void forEach(int n, IntConsumer body) {
        if (n <= 0) return;
        if (n == 1 || threads() == 1) {
            for (int i = 0; i < n; i++) body.accept(i);
            return;
        }
        POOL.invoke(new Range(0, n, body));
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
