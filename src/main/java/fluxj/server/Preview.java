package fluxj.server;

import fluxj.pipeline.RgbImage;

import javax.imageio.ImageIO;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * A preview of a latent without the VAE: each latent pixel's 16 channels projected linearly to RGB, as ComfyUI's
 * latent previews do for FLUX.1 (its {@code latent_formats.Flux} factors, fitted to the FLUX VAE), at the latent's
 * resolution (1/8 of the image). Costs one small product per latent pixel, so it can run after every step. The
 * server previews each step's clean estimate ({@code x - t v}), as AUTOMATIC1111's live preview shows the sampler's
 * denoised prediction rather than the noisy latent (which is mostly noise until the last steps).
 */
final class Preview {
    /** [channel][r, g, b]: ComfyUI's {@code latent_rgb_factors} for FLUX.1's 16-channel latent. */
    private static final float[][] FACTORS = {
            {-0.0346f, 0.0244f, 0.0681f}, {0.0034f, 0.0210f, 0.0687f}, {0.0275f, -0.0668f, -0.0433f}, {-0.0174f, 0.0160f, 0.0617f},
            {0.0859f, 0.0721f, 0.0329f}, {0.0004f, 0.0383f, 0.0115f}, {0.0405f, 0.0861f, 0.0915f}, {-0.0236f, -0.0185f, -0.0259f},
            {-0.0245f, 0.0250f, 0.1180f}, {0.1008f, 0.0755f, -0.0421f}, {-0.0515f, 0.0201f, 0.0011f}, {0.0428f, -0.0012f, -0.0036f},
            {0.0817f, 0.0765f, 0.0749f}, {-0.1264f, -0.0522f, -0.1103f}, {-0.0280f, -0.0881f, -0.0499f}, {-0.1262f, -0.0982f, -0.0778f}};
    private static final float[] BIAS = {-0.0329f, -0.0718f, -0.0851f};

    private Preview() {}

    /**
     * The preview of a packed latent ([h*w tokens, c*4], 2x2 patches channel-major, as the sampler holds it) of an
     * image of 16h x 16w pixels: a 2h x 2w RGB image, or null for latents without 16 channels.
     */
    static RgbImage of(float[] packed, int c, int h, int w) {
        if (c != FACTORS.length) return null;
        int pw = 2 * w;
        byte[] rgb = new byte[3 * 4 * h * w];
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                int tok = (i * w + j) * c * 4;
                for (int sub = 0; sub < 4; sub++) {
                    int y = 2 * i + sub / 2, x = 2 * j + sub % 2, px = (y * pw + x) * 3;
                    for (int k = 0; k < 3; k++) {
                        float v = BIAS[k];
                        for (int ch = 0; ch < c; ch++) v += FACTORS[ch][k] * packed[tok + ch * 4 + sub];
                        rgb[px + k] = (byte) Math.round(255f * Math.clamp((v + 1f) / 2f, 0f, 1f));
                    }
                }
            }
        }
        return new RgbImage(pw, 2 * h, rgb);
    }

    static byte[] png(RgbImage image) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(image.toBufferedImage(), "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }
}
