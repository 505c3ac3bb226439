package fluxj.pipeline;

/** Receives what the pipeline is doing; all methods are optional. Called on the generating thread. */
public interface ProgressListener {
    ProgressListener NONE = new ProgressListener() {};

    enum Stage { ENCODING_PROMPT, DENOISING, DECODING }

    /**
     * One finished Euler step.
     *
     * @param t            the time the step started at
     * @param guided       whether a negative (classifier-free guidance) pass was made
     * @param elapsedNanos time since denoising started
     * @param latent       the packed latent after the step (live array: copy it to keep it)
     */
    record Step(int step, int steps, float t, boolean guided, long elapsedNanos, float[] latent) {}

    default void stage(Stage stage) {}

    default void step(Step step) {}

    /** The memory plan made for the coming image, before anything is loaded. */
    default void plan(fluxj.memory.MemoryPlan plan) {}

    /** Something the user should know (a truncated prompt, an option without effect). */
    default void warning(String message) {}

    /**
     * Asked before each stage and after each step: true stops the image there with
     * {@link GenerationCancelledException} (a server's cancel or interrupt; the CLI never cancels).
     */
    default boolean cancelled() { return false; }
}
