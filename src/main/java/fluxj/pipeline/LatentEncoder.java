package fluxj.pipeline;

/**
 * The VAE encoder as the image conditions use it: pixels [3, H, W] in [-1, 1] (H, W multiples of 8) to the latent
 * the sampler works on, {@code (posterior mean - shift) * scale}, [c, H/8, W/8] (BFL's {@code AutoEncoder.encode}).
 */
@FunctionalInterface
public interface LatentEncoder {
    float[] encode(float[] image, int height, int width);
}
