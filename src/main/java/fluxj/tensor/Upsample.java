package fluxj.tensor;

/** Nearest-neighbour upsampling of a channels-last image (batch 1), as torch's {@code interpolate(mode="nearest")}. */
public final class Upsample {
    private Upsample() {}

    /** x [h*w, c] -> [2h*2w, c], each input pixel repeated over a 2x2 square. */
    public static float[] nearest2x(float[] x, int c, int h, int w) {
        float[] out = new float[Math.multiplyExact(4 * c, Math.multiplyExact(h, w))];
        nearest2x(x, c, h, w, out);
        return out;
    }

    /** As above into {@code out} (every value of which is written: it may hold anything). */
    public static void nearest2x(float[] x, int c, int h, int w, float[] out) {
        if (x.length < (long) c * h * w) throw new IllegalArgumentException("nearest2x: input holds " + x.length + " values, not " + h + "x" + w + "x" + c);
        if (out.length < 4L * c * h * w) throw new IllegalArgumentException("nearest2x: output array too small");
        int row = 2 * w * c;
        int chunks = Math.min(h, Parallel.threads() * 8);
        Parallel.forEach(chunks, chunk -> {
            for (int y = (int) ((long) chunk * h / chunks); y < (int) ((long) (chunk + 1) * h / chunks); y++) {
                int dst = 2 * y * row;
                for (int i = 0, src = y * w * c, d = dst; i < w; i++, src += c, d += 2 * c) {
                    System.arraycopy(x, src, out, d, c);
                    System.arraycopy(x, src, out, d + c, c);
                }
                System.arraycopy(out, dst, out, dst + row, row);
            }
        });
    }
}
