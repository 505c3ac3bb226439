package fluxj.tensor;

/** Widens stored weight rows to f32 panels (with the per-tensor scale of scaled FP8 applied). */
public final class Widen {
    private Widen() {}

    /** Rows [r0, r1) of {@code w} seen as a matrix, widened into {@code out} row-major. */
    public static void rows(Tensor w, int r0, int r1, float[] out) {
        long cols = w.cols();
        long base = r0 * cols;
        int n = (int) ((r1 - r0) * cols);
        DType dt = w.dtype();
        float s = w.scale();
        for (int i = 0; i < n; i++) out[i] = dt.get(w.data(), base + i) * s;
    }
}
