package fluxj.pipeline;

/** The generation was stopped because its {@link ProgressListener#cancelled()} said so; no image was made. */
public final class GenerationCancelledException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public GenerationCancelledException() {
        super("generation cancelled");
    }
}
