package fluxj.tensor;

import java.util.Arrays;

/**
 * What a product does to every output after its bias: nothing, or GELU with the tanh approximation (FLUX's MLPs,
 * torch {@code approximate="tanh"}). Naming it at the product lets a kernel apply it while the output is still in
 * registers (oneDNN's post-ops); the others apply it afterwards with {@link #apply}, the kernels' exact f32 code.
 */
public enum Epilogue {
    NONE, GELU_TANH;

    /** n times NONE: the epilogues of n plain products. */
    public static Epilogue[] none(int n) {
        Epilogue[] e = new Epilogue[n];
        Arrays.fill(e, NONE);
        return e;
    }

    /** Applies this epilogue to y [rows, cols] in place. */
    public void apply(float[] y, int rows, int cols) {
        if (this == GELU_TANH) Ops.geluTanhRows(y, rows, cols, y, cols, 0);
    }
}
