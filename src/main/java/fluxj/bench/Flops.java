package fluxj.bench;

import fluxj.flux.FluxConfig;

/**
 * Arithmetic of the models' forward passes (multiply-adds x 2, from the shapes), the numerators of the benchmarks'
 * rates and of their limits. Products with one row (modulations, embedders) are counted too; element-wise work is not.
 */
final class Flops {
    /** The width of the sinusoid the timestep and guidance embedders take. */
    private static final int TIME_DIM = 256;

    private Flops() {}

    /** A FLUX forward on imgLen + txtLen tokens: one double block, one single block, and the embeddings + final layer. */
    record Flux(double doubleBlock, double singleBlock, double rest) {
        double forward(FluxConfig c) {
            return c.depth() * doubleBlock + c.depthSingle() * singleBlock + rest;
        }
    }

    static Flux flux(FluxConfig c, int imgLen, int txtLen) {
        double h = c.hidden(), mlp = c.mlpHidden(), len = imgLen + txtLen;
        // Per token and block: q, k, v, projection (4 h^2) and the MLP's up and down (2 h mlp); the single block's
        // linear1 (h -> 3h + mlp) and linear2 (h + mlp -> h) are the same products fused.
        double tokens = 2 * len * h * (4 * h + 2 * mlp);
        double attention = 4 * len * len * h;
        double doubleBlock = tokens + attention + 2 * (2 * h * 6 * h);
        double singleBlock = tokens + attention + 2 * h * 3 * h;
        double embedders = 2 * (TIME_DIM + h) * h + 2 * (c.vecDim() + h) * h + (c.guidanceEmbed() ? 2 * (TIME_DIM + h) * h : 0);
        double rest = 2 * h * (imgLen * (double) c.inChannels() + txtLen * (double) c.contextDim()) + embedders
                + 2 * h * 2 * h + 2 * h * imgLen * (double) c.outChannels();
        return new Flux(doubleBlock, singleBlock, rest);
    }

    /** A CLIP text model over n tokens: per layer q, k, v, out (4 w^2), the MLP (2 w mlp) and attention. */
    static double clip(int width, int mlp, int layers, int n) {
        double w = width;
        return layers * (2.0 * n * (4 * w * w + 2 * w * mlp) + 4.0 * n * n * w);
    }
}
