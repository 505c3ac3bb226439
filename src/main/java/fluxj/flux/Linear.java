package fluxj.flux;

import fluxj.tensor.Matmul;
import fluxj.tensor.Tensor;

import java.util.List;

/**
 * A linear layer whose output is the concatenation of one or more parts, each a stored weight matrix (or a row
 * view of one) with its bias. A fused BFL {@code qkv} and diffusers' separate {@code to_q/to_k/to_v} both become
 * three parts, so the model reads q, k and v into their own arrays without copying weights or activations.
 */
public record Linear(List<Part> parts, int in) {

    /** One output slice: {@code y = x w^T + bias}, w [out, in] in its stored dtype, bias null when absent. */
    public record Part(Tensor weight, float[] bias) {
        public int out() { return weight.rows(); }
    }

    public Linear {
        parts = List.copyOf(parts);
    }

    public int out() { return parts.stream().mapToInt(Part::out).sum(); }

    /** Part {@code i} of the output for the {@code m} rows of {@code x} goes to {@code ys[i]} ([m, out(i)]). */
    public void forward(float[] x, int m, float[]... ys) {
        if (ys.length != parts.size()) {
            throw new IllegalArgumentException("linear with " + parts.size() + " parts given " + ys.length + " outputs");
        }
        Tensor[] w = new Tensor[ys.length];
        float[][] bias = new float[ys.length][];
        for (int i = 0; i < ys.length; i++) {
            w[i] = parts.get(i).weight();
            bias[i] = parts.get(i).bias();
        }
        Matmul.matmul(x, m, in, w, bias, ys);
    }

    /** The whole output [m, out()], parts side by side, newly allocated (for small outputs: vectors, embeddings). */
    public float[] apply(float[] x, int m) {
        float[] y = new float[m * out()];
        if (parts.size() == 1) {
            forward(x, m, y);
            return y;
        }
        int col = 0;
        for (Part p : parts) {
            float[] part = Matmul.matmul(x, m, in, p.weight(), p.bias());
            for (int r = 0; r < m; r++) System.arraycopy(part, r * p.out(), y, r * out() + col, p.out());
            col += p.out();
        }
        return y;
    }
}
