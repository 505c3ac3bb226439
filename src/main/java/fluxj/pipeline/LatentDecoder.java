package fluxj.pipeline;

/** The VAE decoder: a latent [c, h, w] (as the sampler produces it, before un-scaling) to an image [3, 8h, 8w]. */
@FunctionalInterface
public interface LatentDecoder {
    float[] decode(float[] z, int h, int w);
}
