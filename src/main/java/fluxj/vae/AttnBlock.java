package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.tensor.Attention;
import fluxj.tensor.Matmul;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Ops;
import fluxj.tensor.Tensor;

/**
 * Single-head self-attention over the pixels of the lowest-resolution feature map, added to its input:
 * {@code x + proj_out(softmax(q k^T / sqrt(C)) v)} with q, k, v 1x1 projections of {@code norm(x)}. The projections
 * are stored as 1x1 convolutions [C, C, 1, 1] (BFL) or linears [C, C] (diffusers); both are the same matrix.
 */
record AttnBlock(int channels, GroupNorm norm, Tensor q, float[] qBias, Tensor k, float[] kBias,
                        Tensor v, float[] vBias, Tensor proj, float[] projBias) {

    static AttnBlock load(Checkpoint ck, String prefix, int channels, int groups) {
        Tensor[] w = new Tensor[4];
        float[][] b = new float[4][];
        String[] parts = {"q", "k", "v", "proj_out"};
        for (int i = 0; i < 4; i++) {
            w[i] = ck.get(prefix + parts[i] + ".weight");
            if (w[i].rows() != channels || w[i].cols() != channels || !w[i].dtype().isFloat()) {
                throw new ModelFormatException(w[i].source(), "tensor '" + w[i].name() + "' is " + w[i]
                        + ", expected a float [" + channels + ", " + channels + "] projection");
            }
            b[i] = ck.get(prefix + parts[i] + ".bias").expectShape(channels).toFloats();
        }
        return new AttnBlock(channels, GroupNorm.load(ck, prefix + "norm", channels, groups), w[0], b[0], w[1], b[1], w[2], b[2], w[3], b[3]);
    }

    /** x [h*w, C] -> [h*w, C]: channels-last pixels are the token-major rows the projections and attention take. */
    public float[] forward(float[] x, int h, int w) {
        int l = h * w;
        float[] out = Matmul.matmul(attend(norm.apply(x, l), l), l, channels, proj, projBias);
        Ops.add(out, x, out.length);
        return out;
    }

    /** softmax(q k^T / sqrt(C)) v for tokens [L, C]. */
    private float[] attend(float[] tokens, int l) {
        int c = channels;
        float[] qs = Matmul.matmul(tokens, l, c, q, qBias), ks = Matmul.matmul(tokens, l, c, k, kBias),
                vs = Matmul.matmul(tokens, l, c, v, vBias);
        float[] o = new float[l * c];
        Attention.attention(qs, ks, vs, l, l, 1, c, (float) (1 / Math.sqrt(c)), null, false, o);
        return o;
    }

    /** Multiply-adds x 2 of one run on h x w pixels: the four projections, then q k^T and its product with v. */
    double flops(int h, int w) {
        double l = (double) h * w;
        return 2 * (4 * l * channels * channels + 2 * l * l * channels);
    }

    /** Peak bytes of live activations while running on an [h*w, C] input: x, tokens, q, k, v, output. */
    long peakBytes(int h, int w) {
        return 6L * channels * h * w * 4;
    }
}
