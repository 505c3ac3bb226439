package fluxj.server;

/**
 * Bounds on what one request may ask for, so a client cannot make the server allocate or compute without end.
 *
 * @param maxSide      largest width or height, pixels
 * @param maxSteps     most Euler steps
 * @param maxImages    most images in one request (OpenAI {@code n}, A1111 {@code batch_size * n_iter})
 * @param maxBodyBytes largest request body; more is refused with 413 before it is read
 */
public record Limits(int maxSide, int maxSteps, int maxImages, long maxBodyBytes) {
    public static final Limits DEFAULT = new Limits(2048, 100, 8, 64L << 20);

    public Limits {
        if (maxSide < 16 || maxSteps < 1 || maxImages < 1 || maxBodyBytes < 1024) throw new IllegalArgumentException("limits too small: " + this);
    }
}
