package fluxj.vae;

import fluxj.tensor.ChannelsLast;

/**
 * A convolution run over its output in bands of rows spanning the image's width (the tiles of the tiled encoder).
 * Each band copies the input rows it reads, its halo included, out of the whole input, through the GroupNorm + SiLU
 * that precedes the convolution when there is one (with the whole input's statistics), and convolves them
 * ({@link Conv#applyRows}): every output pixel is the one the convolution of the whole normalised input gives, while
 * the normalised input and the product exist for one band at a time.
 */
final class Bands {
    /** Receives output rows [o0, o1) of the convolution, [(o1 - o0) * wo, Cout] from the start of {@code band}. */
    interface Sink { void accept(int o0, int o1, float[] band); }

    private Bands() {}

    /**
     * Output rows of {@code conv} on x [h*w, Cin] in bands of {@code rows}, each given to {@code sink} in order; the
     * input of the convolution is silu(f(x)) when f is not null, else x. The sink may overwrite rows of x that no
     * later band reads.
     */
    static void convolve(Conv conv, float[] x, int h, int w, ChannelsLast.Affine f, int rows, Sink sink) {
        int ho = conv.outRows(h), wo = conv.outCols(w), cin = conv.in();
        int step = Math.max(1, Math.min(rows, ho));
        float[] input = new float[Math.multiplyExact(inputRows(conv, h, step), w * cin)];
        float[] output = new float[Math.multiplyExact(step, wo * conv.out())];
        for (int o0 = 0; o0 < ho; o0 += step) {
            int o1 = Math.min(ho, o0 + step), r0 = conv.firstInputRow(o0), r1 = conv.endInputRow(o1, h);
            int n = (r1 - r0) * w;
            if (f == null) System.arraycopy(x, r0 * w * cin, input, 0, n * cin);
            else ChannelsLast.normalize(x, r0 * w, n, f, true, input, 0);
            sink.accept(o0, o1, conv.applyRows(input, h, w, o0, o1, output));
        }
    }

    /** A sink copying each band into its rows of out [ho * wo, Cout]. */
    static Sink into(float[] out, int wo, int cout) {
        return (o0, o1, band) -> System.arraycopy(band, 0, out, o0 * wo * cout, (o1 - o0) * wo * cout);
    }

    /** The most input rows a band of {@code rows} output rows reads: all its kernel spans, when no border clips them. */
    static int inputRows(Conv conv, int h, int rows) { return Math.min(h, conv.inputSpan(rows)); }

    /**
     * Bytes a band of {@code rows} output rows of {@code conv} on an h x w input holds: its input and output rows
     * and the convolution's scratch.
     */
    static long bytes(Conv conv, int h, int w, int rows) {
        int step = Math.max(1, Math.min(rows, conv.outRows(h)));
        long outPixels = (long) step * conv.outCols(w);
        return 4L * inputRows(conv, h, step) * w * conv.in() + 4L * outPixels * conv.out() + conv.scratchBytes(outPixels);
    }
}
