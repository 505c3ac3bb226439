package fluxj.lora;

import fluxj.tensor.Tensor;

/**
 * The weight difference one LoRA module describes, before its strength is applied: rows x cols, readable row by
 * row in float64 (merging) or as a dense float32 block (quantized weights, whose products run beside the matmul).
 * Each variant states ComfyUI's formula, with {@code scale} = alpha / rank as that variant defines rank.
 */
sealed interface Delta {
    int rows();

    int cols();

    /** {@code acc[c] += f * delta[row, c]} for every column c. */
    void addRow(int row, double f, double[] acc);

    /** LoRA: {@code scale * up @ down}, up [rows, r], down [r, cols]. */
    record LowRank(Tensor up, Tensor down, double scale) implements Delta {
        public int rows() { return up.rows(); }
        public int cols() { return down.cols(); }

        public void addRow(int row, double f, double[] acc) {
            int r = down.rows(), n = down.cols();
            for (int k = 0; k < r; k++) {
                double coef = f * scale * up.get((long) row * r + k);
                if (coef == 0) continue;
                long base = (long) k * n;
                for (int c = 0; c < n; c++) acc[c] += coef * down.get(base + c);
            }
        }
    }

    /** LoHa: {@code scale * (w1a @ w1b) * (w2a @ w2b)}, the product elementwise. */
    record Loha(Tensor w1a, Tensor w1b, Tensor w2a, Tensor w2b, double scale) implements Delta {
        public int rows() { return w1a.rows(); }
        public int cols() { return w1b.cols(); }

        public void addRow(int row, double f, double[] acc) {
            double[] a = product(w1a, w1b, row), b = product(w2a, w2b, row);
            for (int c = 0; c < a.length; c++) acc[c] += f * scale * a[c] * b[c];
        }

        private static double[] product(Tensor a, Tensor b, int row) {
            int r = b.rows(), n = b.cols();
            double[] out = new double[n];
            for (int k = 0; k < r; k++) {
                double coef = a.get((long) row * r + k);
                long base = (long) k * n;
                for (int c = 0; c < n; c++) out[c] += coef * b.get(base + c);
            }
            return out;
        }
    }

    /**
     * LoKr: {@code scale * kron(W1, W2)}, each factor stored whole or as a product of two; kron(A, B)[i*rows(B) + k,
     * j*cols(B) + l] = A[i, j] * B[k, l]. The factors are small, so they are held multiplied out in float64.
     */
    record Lokr(double[] w1, int rows1, int cols1, double[] w2, int rows2, int cols2, double scale) implements Delta {
        public int rows() { return rows1 * rows2; }
        public int cols() { return cols1 * cols2; }

        public void addRow(int row, double f, double[] acc) {
            int i = row / rows2, k = row % rows2;
            for (int j = 0; j < cols1; j++) {
                double a = f * scale * w1[i * cols1 + j];
                if (a == 0) continue;
                int o = j * cols2, b = k * cols2;
                for (int l = 0; l < cols2; l++) acc[o + l] += a * w2[b + l];
            }
        }

        /** A factor as a float64 matrix: the tensor itself, or the product of its two halves. */
        static double[] factor(Tensor whole, Tensor a, Tensor b) {
            if (whole != null) {
                double[] out = new double[Math.toIntExact(whole.numel())];
                for (int i = 0; i < out.length; i++) out[i] = whole.get(i);
                return out;
            }
            int rows = a.rows(), r = a.cols(), cols = b.cols();
            double[] out = new double[rows * cols];
            for (int i = 0; i < rows; i++) {
                for (int k = 0; k < r; k++) {
                    double coef = a.get((long) i * r + k);
                    for (int c = 0; c < cols; c++) out[i * cols + c] += coef * b.get((long) k * cols + c);
                }
            }
            return out;
        }
    }

    /** A full difference of the weight ({@code .diff}). */
    record Full(Tensor diff) implements Delta {
        public int rows() { return diff.rows(); }
        public int cols() { return diff.cols(); }

        public void addRow(int row, double f, double[] acc) {
            long base = (long) row * diff.cols();
            for (int c = 0; c < acc.length && c < diff.cols(); c++) acc[c] += f * diff.get(base + c);
        }
    }
}
