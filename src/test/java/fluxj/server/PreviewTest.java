package fluxj.server;

import fluxj.pipeline.Latents;
import fluxj.pipeline.RgbImage;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The latent preview: each latent pixel's 16 channels through ComfyUI's FLUX factors, at the latent's resolution. */
class PreviewTest {
    /** Factor rows of channels 0 and 5 and the bias, as ComfyUI's table has them. */
    private static final float[] F0 = {-0.0346f, 0.0244f, 0.0681f}, F5 = {0.0004f, 0.0383f, 0.0115f}, BIAS = {-0.0329f, -0.0718f, -0.0851f};

    private static int expected(float v) {
        return Math.round(255f * Math.clamp((v + 1f) / 2f, 0f, 1f));
    }

    @Test
    void eachLatentPixelIsProjectedFromItsOwnChannels() {
        int c = 16, h = 2, w = 3;
        // an unpacked latent [c, 2h, 2w] with two channels set at one pixel, packed as the sampler holds it
        float[] latent = new float[c * 4 * h * w];
        int y = 3, x = 4, lw = 2 * w, plane = 4 * h * w;
        latent[y * lw + x] = 2f;
        latent[5 * plane + y * lw + x] = -3f;
        RgbImage p = Preview.of(Latents.pack(latent, c, h, w), c, h, w);
        assertEquals(2 * w, p.width());
        assertEquals(2 * h, p.height());
        for (int py = 0; py < 2 * h; py++) {
            for (int px = 0; px < 2 * w; px++) {
                for (int k = 0; k < 3; k++) {
                    float v = BIAS[k] + (py == y && px == x ? 2f * F0[k] - 3f * F5[k] : 0f);
                    assertEquals(expected(v), p.rgb()[(py * lw + px) * 3 + k] & 0xff, "pixel " + py + "," + px + " channel " + k);
                }
            }
        }
    }

    @Test
    void valuesAreClampedAndOtherChannelCountsHaveNoPreview() {
        float[] big = new float[16 * 4];
        java.util.Arrays.fill(big, 1000f);
        RgbImage p = Preview.of(big, 16, 1, 1);
        for (byte b : p.rgb()) assertTrue((b & 0xff) == 0 || (b & 0xff) == 255, "not clamped: " + (b & 0xff));
        assertNull(Preview.of(new float[4 * 4], 4, 1, 1));
    }
}
