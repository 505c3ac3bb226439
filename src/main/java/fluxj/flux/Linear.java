package fluxj.flux;

import fluxj.tensor.Epilogue;
import fluxj.tensor.Matmul;
import fluxj.tensor.Tensor;

import java.util.List;

/**
 * A linear layer whose output is the concatenation of one or more parts, each a stored weight matrix (or a row
 * view of one) with its bias. A fused BFL {@code qkv} and diffusers' separate {@code to_q/to_k/to_v} both become
 * three parts, so the model reads q, k and v into their own arrays without copying weights or activations.
 */
public record Linear(List<Part> parts, int in) {

    /**
     * One output slice: {@code y = x w^T + bias + terms}, w [out, in] in its stored dtype, bias null when absent;
     * {@code terms} are products added beside the matmul (LoRA on weights that are not merged), usually none.
     */
    public record Part(Tensor weight, float[] bias, List<Term> terms) {
        public Part {
            terms = List.copyOf(terms);
        }

        public Part(Tensor weight, float[] bias) { this(weight, bias, List.of()); }

        public int out() { return weight.rows(); }
    }

    /**
     * A product added to output columns [offset, offset + up.rows()) of a part: {@code factor * (x down^T) up^T}
     * (low rank: down [r, in], up [n, r]), or {@code factor * x up^T} when {@code down} is null (a dense delta
     * [n, in]). Weights stay as stored (quantized ones are never re-quantized); sums in f32.
     */
    public record Term(Tensor down, Tensor up, float factor, int offset) {
        void addTo(float[] x, int m, int in, float[] y, int width) {
            float[] d;
            if (down == null) {
                d = Matmul.matmul(x, m, in, up, null);
                scale(d, factor);
            } else {
                float[] t = Matmul.matmul(x, m, in, down, null);
                scale(t, factor);
                d = Matmul.matmul(t, m, down.rows(), up, null);
            }
            int n = up.rows();
            for (int r = 0; r < m; r++) {
                int yo = r * width + offset, dOff = r * n;
                for (int c = 0; c < n; c++) y[yo + c] += d[dOff + c];
            }
        }

        private static void scale(float[] a, float f) {
            if (f != 1f) for (int i = 0; i < a.length; i++) a[i] *= f;
        }
    }

    public Linear {
        parts = List.copyOf(parts);
    }

    public int out() { return parts.stream().mapToInt(Part::out).sum(); }

    /** Part {@code i} of the output for the {@code m} rows of {@code x} goes to {@code ys[i]} ([m, out(i)]). */
    public void forward(float[] x, int m, float[]... ys) {
        forward(x, m, Epilogue.none(ys.length), ys);
    }

    /**
     * {@link #forward(float[], int, float[]...)} with {@code epilogue[i]} applied to part i's output (after its
     * terms; inside the product when the part has none and the kernel can).
     */
    public void forward(float[] x, int m, Epilogue[] epilogue, float[]... ys) {
        if (ys.length != parts.size() || epilogue.length != parts.size()) {
            throw new IllegalArgumentException("linear with " + parts.size() + " parts given " + ys.length + " outputs and "
                    + epilogue.length + " epilogues");
        }
        Tensor[] w = new Tensor[ys.length];
        float[][] bias = new float[ys.length][];
        Epilogue[] inside = new Epilogue[ys.length];
        for (int i = 0; i < ys.length; i++) {
            w[i] = parts.get(i).weight();
            bias[i] = parts.get(i).bias();
            inside[i] = parts.get(i).terms().isEmpty() ? epilogue[i] : Epilogue.NONE;
        }
        Matmul.matmul(x, m, in, w, bias, inside, ys);
        for (int i = 0; i < ys.length; i++) {
            Part p = parts.get(i);
            for (Term t : p.terms()) t.addTo(x, m, in, ys[i], p.out());
            if (inside[i] != epilogue[i]) epilogue[i].apply(ys[i], m, p.out());
        }
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
            for (Term t : p.terms()) t.addTo(x, m, in, part, p.out());
            for (int r = 0; r < m; r++) System.arraycopy(part, r * p.out(), y, r * out() + col, p.out());
            col += p.out();
        }
        return y;
    }
}
