package fluxj.condition;

/**
 * Where FLUX.1 Kontext reference images go: the resolution each is resized to (BFL's
 * {@code PREFERED_KONTEXT_RESOLUTIONS}) and, for several references, the token offsets of ComfyUI's default
 * "offset" layout.
 */
public final class Kontext {
    private Kontext() {}

    /** BFL's preferred resolutions, width x height. */
    static final int[][] PREFERRED = {
            {672, 1568}, {688, 1504}, {720, 1456}, {752, 1392}, {800, 1328}, {832, 1248}, {880, 1184}, {944, 1104},
            {1024, 1024}, {1104, 944}, {1184, 880}, {1248, 832}, {1328, 800}, {1392, 752}, {1456, 720}, {1504, 688}, {1568, 672}};

    /**
     * The preferred resolution {width, height} for a w x h image: the aspect ratio closest to w / h, ties to the
     * smaller width, as Python's {@code min} over {@code (abs(ar - w / h), w, h)} picks it.
     */
    public static int[] preferredSize(int w, int h) {
        double ar = (double) w / h;
        int[] best = null;
        double bestD = Double.POSITIVE_INFINITY;
        for (int[] p : PREFERRED) {
            double d = Math.abs(ar - (double) p[0] / p[1]);
            if (d < bestD || d == bestD && (p[0] < best[0] || p[0] == best[0] && p[1] < best[1])) {
                bestD = d;
                best = p;
            }
        }
        // BFL then takes 16 * int(x / 16): the table's sizes are multiples of 16 already
        return new int[]{16 * (best[0] / 16), 16 * (best[1] / 16)};
    }

    /**
     * Token offsets {row, col} of references of latent sizes {@code latent[i] = {Hl, Wl}} (pixels / 8), ComfyUI's
     * "offset" rule: each goes right of the blocks so far when that keeps the layout squarer, else below them;
     * the first is at (0, 0).
     */
    public static int[][] offsets(int[][] latent) {
        int[][] out = new int[latent.length][];
        int hh = 0, ww = 0;
        for (int i = 0; i < latent.length; i++) {
            int hl = latent[i][0], wl = latent[i][1], hOff = 0, wOff = 0;
            if (hl + hh > wl + ww) wOff = ww;
            else hOff = hh;
            hh = Math.max(hh, hl + hOff);
            ww = Math.max(ww, wl + wOff);
            out[i] = new int[]{(hOff + 1) / 2, (wOff + 1) / 2};
        }
        return out;
    }
}
