package fluxj.tensor;

/** Nearest-neighbour upsampling of an NCHW image (batch 1), as torch's {@code interpolate(mode="nearest")}. */
public final class Upsample {
    private Upsample() {}

    /** x [c, h, w] -> [c, 2h, 2w], each input pixel repeated over a 2x2 square. */
    public static float[] nearest2x(float[] x, int c, int h, int w) {
        if (x.length < (long) c * h * w) throw new IllegalArgumentException("nearest2x: input holds " + x.length + " values, not " + c + "x" + h + "x" + w);
        int w2 = 2 * w;
        float[] out = new float[Math.multiplyExact(4 * c, Math.multiplyExact(h, w))];
        Parallel.forEach(Math.min(c * h, Parallel.threads() * 8), chunk -> {
            int rows = c * h, chunks = Math.min(rows, Parallel.threads() * 8);
            for (int r = (int) ((long) chunk * rows / chunks); r < (int) ((long) (chunk + 1) * rows / chunks); r++) {
                int src = r * w, dst = 2 * r * w2;
                for (int i = 0; i < w; i++) {
                    float v = x[src + i];
                    out[dst + 2 * i] = v;
                    out[dst + 2 * i + 1] = v;
                }
                System.arraycopy(out, dst, out, dst + w2, w2);
            }
        });
        return out;
    }
}
