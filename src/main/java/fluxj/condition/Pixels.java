package fluxj.condition;

import fluxj.pipeline.RgbImage;
import fluxj.tensor.DType;

/** Pixel conversions of the reference's image preparation, with its float32 and integer roundings. */
public final class Pixels {
    private Pixels() {}

    /** 8-bit RGB to [3, H, W] floats as {@code torch.from_numpy(a).float() / 127.5 - 1.0}: two float32 operations. */
    public static float[] toModel(RgbImage img) {
        int plane = img.width() * img.height();
        byte[] rgb = img.rgb();
        float[] out = new float[3 * plane];
        for (int p = 0; p < plane; p++) {
            for (int c = 0; c < 3; c++) out[c * plane + p] = (rgb[p * 3 + c] & 0xff) / 127.5f - 1.0f;
        }
        return out;
    }

    /**
     * Pillow's {@code convert("L")} of an RGB image: {@code (19595 R + 38470 G + 7471 B + 32768) >> 16} in integers
     * (exact for grayscale images replicated to RGB, whose weights sum to 65536).
     */
    public static int[] luminance(RgbImage img) {
        byte[] rgb = img.rgb();
        int[] l = new int[img.width() * img.height()];
        for (int p = 0; p < l.length; p++) {
            l[p] = (19595 * (rgb[3 * p] & 0xff) + 38470 * (rgb[3 * p + 1] & 0xff) + 7471 * (rgb[3 * p + 2] & 0xff) + 32768) >> 16;
        }
        return l;
    }

    /** x rounded to bfloat16 (round to nearest even) and back, in place: the reference's {@code .to(torch.bfloat16)}. */
    public static float[] roundToBf16(float[] x) {
        for (int i = 0; i < x.length; i++) x[i] = DType.bf16ToFloat(DType.floatToBf16(x[i]));
        return x;
    }

    /** {@code img} on a canvas larger by the given margins, filled with gray level {@code fill}. */
    static RgbImage padded(RgbImage img, int left, int top, int right, int bottom, int fill) {
        int w = left + img.width() + right, h = top + img.height() + bottom;
        byte[] out = new byte[w * h * 3];
        java.util.Arrays.fill(out, (byte) fill);
        for (int y = 0; y < img.height(); y++) {
            System.arraycopy(img.rgb(), y * img.width() * 3, out, ((y + top) * w + left) * 3, img.width() * 3);
        }
        return new RgbImage(w, h, out);
    }

    /** The outpainting mask: black over the w x h image, white over the margins around it. */
    static RgbImage border(int w, int h, int left, int top, int right, int bottom) {
        RgbImage black = new RgbImage(w, h, new byte[w * h * 3]);
        return padded(black, left, top, right, bottom, 255);
    }
}
