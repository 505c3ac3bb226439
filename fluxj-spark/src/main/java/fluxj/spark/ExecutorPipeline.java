package fluxj.spark;

import fluxj.pipeline.FluxPipeline;
import fluxj.pipeline.HubClient;

import java.io.IOException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The one pipeline of an executor JVM: opened by the first task that needs an image and kept for every later
 * task (weights are memory-mapped once per JVM, not once per task). A pipeline serves one image at a time, so
 * tasks sharing an executor take turns; the recommended setting (one task per executor with all its cores) never
 * makes them wait.
 */
final class ExecutorPipeline {
    static final ReentrantLock LOCK = new ReentrantLock();
    private static ModelSpec spec;
    private static FluxPipeline pipeline;

    private ExecutorPipeline() {}

    /** The pipeline for {@code wanted}; call with {@link #LOCK} held. Another model replaces the one held. */
    static FluxPipeline get(ModelSpec wanted) throws IOException {
        if (!LOCK.isHeldByCurrentThread()) throw new IllegalStateException("ExecutorPipeline.get without its lock");
        if (pipeline != null && !wanted.equals(spec)) {
            pipeline.close();
            pipeline = null;
        }
        if (pipeline == null) {
            pipeline = FluxPipeline.open(wanted.source(), HubClient.Listener.NONE);
            spec = wanted;
        }
        return pipeline;
    }
}
