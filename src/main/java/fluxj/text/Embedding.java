package fluxj.text;

import fluxj.tensor.Tensor;
import fluxj.tensor.Widen;

/** Embedding lookup: only the rows asked for are widened from the stored table, never the whole table. */
final class Embedding {
    private Embedding() {}

    /** Rows {@code ids[0..n)} of {@code table} [vocab, dim] as f32 [n, dim]. */
    static float[] rows(Tensor table, int[] ids, int n) {
        int dim = table.cols(), vocab = table.rows();
        float[] out = new float[n * dim];
        float[] row = new float[dim];
        for (int i = 0; i < n; i++) {
            int id = ids[i];
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("token id " + id + " at position " + i + " is outside the vocabulary of "
                        + vocab + " rows of '" + table.name() + "'");
            }
            Widen.rows(table, id, id + 1, row);
            System.arraycopy(row, 0, out, i * dim, dim);
        }
        return out;
    }
}
