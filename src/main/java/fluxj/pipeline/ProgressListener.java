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
     * @param denoised     the model's estimate of the clean packed latent from this step (what an image stopped
     *                     here by {@link #finishEarly()} is decoded from; at the last step the latent itself)
     */
    record Step(int step, int steps, float t, boolean guided, long elapsedNanos, float[] latent, float[] denoised) {}

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

    /**
     * Asked after each step but the last, after {@link #cancelled()}: true ends the denoising there and the image
     * is decoded from that step's {@link Step#denoised()} estimate, as AUTOMATIC1111 finishes an interrupted or
     * skipped image; the result's {@link GenerationResult#stoppedAt()} says where it stopped.
     */
    default boolean finishEarly() { return false; }
}
