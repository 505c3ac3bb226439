package fluxj.tensor.onednn;

import java.util.concurrent.atomic.LongAdder;

/**
 * Wall time spent inside oneDNN's primitives (products, attention's products, convolutions) and the arithmetic they
 * did, summed over the process: benchmarks read it around a phase to split the phase's time into the library's
 * share, at the library's own rate, and the engine's work around it. Two clock reads per primitive call.
 */
public final class OneDnnTime {
    private static final LongAdder NANOS = new LongAdder(), FLOPS = new LongAdder();

    private OneDnnTime() {}

    /** Nanoseconds inside oneDNN and floating-point operations it performed, since the process started or between two marks. */
    public record Span(long nanos, long flops) {
        /** What happened between {@code earlier} and this mark. */
        public Span since(Span earlier) { return new Span(nanos - earlier.nanos, flops - earlier.flops); }

        public double seconds() { return nanos / 1e9; }

        /** The library's own rate over this span, GFLOP/s (0 when nothing ran). */
        public double gflops() { return nanos == 0 ? 0 : flops / (double) nanos; }
    }

    /** The totals so far; subtract an earlier mark with {@link Span#since}. */
    public static Span mark() { return new Span(NANOS.sum(), FLOPS.sum()); }

    /** Counts one primitive call that began at {@code startNanos} (System.nanoTime) and did {@code flops} operations. */
    static void add(long startNanos, double flops) {
        NANOS.add(System.nanoTime() - startNanos);
        FLOPS.add((long) flops);
    }
}
