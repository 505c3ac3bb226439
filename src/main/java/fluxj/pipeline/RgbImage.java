package fluxj.pipeline;

import java.awt.image.BufferedImage;

/** An 8-bit RGB image, pixels row-major and interleaved (r, g, b). */
public record RgbImage(int width, int height, byte[] rgb) {
    public RgbImage {
        if (rgb.length != width * height * 3) throw new IllegalArgumentException("expected " + width * height * 3 + " bytes, got " + rgb.length);
    }

    /**
     * The VAE output [3, H, W] to 8 bits as the reference does: clamp to [-1, 1], then
     * {@code (uint8)(127.5 * (x + 1))} in float32, truncating (rounding would cost ~4 dB against it).
     */
    public static RgbImage fromDecoded(float[] chw, int width, int height) {
        int plane = width * height;
        if (chw.length != 3 * plane) throw new IllegalArgumentException("decoded image has " + chw.length + " values, expected 3x" + height + "x" + width);
        byte[] rgb = new byte[3 * plane];
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < plane; p++) {
                float x = Math.clamp(chw[c * plane + p], -1f, 1f);
                rgb[p * 3 + c] = (byte) (int) (127.5f * (x + 1f));
            }
        }
        return new RgbImage(width, height, rgb);
    }

    public BufferedImage toBufferedImage() {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int p = (y * width + x) * 3;
                img.setRGB(x, y, (rgb[p] & 0xff) << 16 | (rgb[p + 1] & 0xff) << 8 | (rgb[p + 2] & 0xff));
            }
        }
        return img;
    }

    public static RgbImage of(BufferedImage img) {
        int w = img.getWidth(), h = img.getHeight();
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int v = img.getRGB(x, y), p = (y * w + x) * 3;
                rgb[p] = (byte) (v >> 16);
                rgb[p + 1] = (byte) (v >> 8);
                rgb[p + 2] = (byte) v;
            }
        }
        return new RgbImage(w, h, rgb);
    }

    /** Peak signal-to-noise ratio against {@code other} in dB over all 8-bit values (infinite when identical). */
    public double psnr(RgbImage other) {
        if (other.width != width || other.height != height) throw new IllegalArgumentException("sizes differ: " + width + "x" + height + " vs " + other.width + "x" + other.height);
        double se = 0;
        for (int i = 0; i < rgb.length; i++) {
            double d = (rgb[i] & 0xff) - (other.rgb[i] & 0xff);
            se += d * d;
        }
        return 10 * Math.log10(255.0 * 255.0 / (se / rgb.length));
    }
}
