package fluxj.pipeline;

/**
 * The flow transformer as the sampler uses it: the prediction for {@code tokens} image tokens {@code img}
 * [tokens, inChannels] at rotary positions {@code ids} [tokens, 3] at time {@code t}, for one prompt's conditioning and
 * the distilled guidance value (ignored by models without a guidance embedder). Returns [tokens, outChannels]: the
 * caller keeps the rows of the tokens it integrates (BFL's {@code denoise} drops the reference tokens' rows).
 */
@FunctionalInterface
public interface Denoiser {
    float[] velocity(float[] img, int tokens, float[] ids, float t, Conditioning cond, float guidance);
}
