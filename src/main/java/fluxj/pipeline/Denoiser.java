package fluxj.pipeline;

/**
 * The flow transformer as the sampler uses it: the velocity for a packed latent {@code img} [h*w, c*4] on an
 * {@code h} x {@code w} token grid (H/16 x W/16) at time {@code t}, for one prompt's conditioning and the distilled
 * guidance value (ignored by models without a guidance embedder).
 */
@FunctionalInterface
public interface Denoiser {
    float[] velocity(float[] img, int h, int w, float t, Conditioning cond, float guidance);
}
