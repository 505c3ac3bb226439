package fluxj.tensor;

import fluxj.tensor.onednn.MatmulBackend;
import fluxj.tensor.onednn.OneDnnConv;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * 2-D convolution of one NCHW image (batch 1) as matrix multiplies through {@link Matmul}. The output pixels are
 * cut into blocks; each block's input patches are gathered into a [pixels, Cin*kh*kw] matrix (blocked im2col)
 * and multiplied by the weight seen as [Cout, Cin*kh*kw], its stored layout, so no weight is copied. Pixels are
 * the M of the product (large, which is what a GEMM wants) and the patch buffer stays a few MB at any image size.
 * With {@code --matmul onednn} oneDNN's bf16 convolution runs instead ({@link OneDnnConv}).
 */
public final class Conv2d {
    /**
     * Patch-matrix budget per block: bounded whatever the image, and enough rows (7281 at FLUX's widest, 512
     * channels x 3x3) that widening and packing the weight stays a small share. Matmul packs the weight once
     * per call and per row slice it gives a thread (up to 6 slices when Cout is 128 or 256), so each slice needs
     * thousands of rows: on the 512x512 FLUX decode 8 MB blocks took 25.2 s, 32 MB 20.4 s, 64 MB 19.8 s,
     * 128 MB 19.0 s, 256 MB 18.7 s; 128 MB takes most of the gain for half the memory of 256.
     */
    static final long BLOCK_BYTES = 128L << 20;
    private static final int MIN_BLOCK = 64;
    private static final VectorSpecies<Float> S4 = FloatVector.SPECIES_128;
    private static final ConvKernel IM2COL = new ConvKernel() {
        @Override
        public String name() { return "im2col + " + Matmul.kernel().name(); }

        @Override
        public void conv2d(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Padding pad, float[] out) {
            im2col(x, h, w, weight, bias, stride, pad, out, BLOCK_BYTES);
        }
    };
    /** The layout of the activations taken and returned; the oneDNN kernel converts from and to it. */
    private static final OneDnnConv.Layout LAYOUT = OneDnnConv.Layout.NCHW;
    private static final ConvKernel KERNEL = switch (MatmulBackend.current()) {
        case JAVA -> IM2COL;
        case ONEDNN -> oneDnn();
    };
    private static final ScopedValue<ConvKernel> OVERRIDE = ScopedValue.newInstance();

    private Conv2d() {}

    /** Zero padding added on each side of the input, in input pixels. */
    public record Padding(int top, int left, int bottom, int right) {
        public static final Padding NONE = new Padding(0, 0, 0, 0);

        public Padding {
            if (top < 0 || left < 0 || bottom < 0 || right < 0) throw new IllegalArgumentException("negative padding");
        }

        /** Symmetric padding that keeps the size of a stride-1 convolution with an odd kernel. */
        public static Padding same(int kernel) {
            int p = kernel / 2;
            return new Padding(p, p, p, p);
        }
    }

    /** Output length along one axis. */
    public static int outSize(int in, int kernel, int stride, int padBefore, int padAfter) {
        return (in + padBefore + padAfter - kernel) / stride + 1;
    }

    /** Rows of the patch matrix per block for a reduction length k and m output pixels. */
    static int blockRows(int k, long m) { return blockRows(k, m, BLOCK_BYTES); }

    static int blockRows(int k, long m, long blockBytes) {
        return (int) Math.min(m, Math.max(MIN_BLOCK, blockBytes / (4L * k)));
    }

    /** Bytes of the scratch buffers one convolution allocates (patch matrix and output block). */
    public static long scratchBytes(int cin, int kh, int kw, int cout, long outPixels) {
        int k = cin * kh * kw;
        long rows = blockRows(k, outPixels);
        return 4L * rows * (k + cout);
    }

    /**
     * y = conv(x) + bias with x [Cin, h, w] and weight [Cout, Cin, kh, kw] (or [Cout, Cin] for a 1x1 kernel) in
     * any float dtype. Returns [Cout, ho, wo].
     */
    public static float[] conv2d(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Padding pad) {
        int kh = weight.rank() == 4 ? weight.dim(2) : 1, kw = weight.rank() == 4 ? weight.dim(3) : 1;
        int ho = outSize(h, kh, stride, pad.top(), pad.bottom()), wo = outSize(w, kw, stride, pad.left(), pad.right());
        float[] out = new float[Math.multiplyExact(weight.dim(0), Math.multiplyExact(ho, wo))];
        conv2d(x, h, w, weight, bias, stride, pad, out);
        return out;
    }

    /**
     * As {@link #conv2d(float[], int, int, Tensor, float[], int, Padding)} into {@code out} [Cout, ho, wo], by the
     * {@link #kernel()} in use.
     */
    public static void conv2d(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Padding pad, float[] out) {
        validate(x, h, w, weight, bias, stride, pad, out);
        kernel().conv2d(x, h, w, weight, bias, stride, pad, out);
    }

    /** The backend in use: oneDNN's convolution with {@code --matmul onednn}, else the Java im2col path. */
    public static ConvKernel kernel() { return OVERRIDE.orElse(KERNEL); }

    /** oneDNN's bf16 convolution on this class's activations (needs the library; scaled weights go to im2col). */
    public static ConvKernel oneDnn() { return new OneDnnConv(LAYOUT, IM2COL); }

    /** Runs {@code body} with {@code kernel} doing this thread's convolutions (benchmarks compare backends in one run). */
    public static void using(ConvKernel kernel, Runnable body) {
        ScopedValue.where(OVERRIDE, kernel).run(body);
    }

    /** The Java im2col path with a given patch-matrix budget per block (tests use a small one to cross block borders cheaply). */
    static void conv2d(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Padding pad, float[] out, long blockBytes) {
        validate(x, h, w, weight, bias, stride, pad, out);
        im2col(x, h, w, weight, bias, stride, pad, out, blockBytes);
    }

    private static void validate(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Padding pad, float[] out) {
        if (weight.rank() != 4 && weight.rank() != 2) throw new IllegalArgumentException("conv2d: weight " + weight + " is not [Cout, Cin, kh, kw]");
        int cout = weight.dim(0), cin = weight.dim(1);
        int kh = weight.rank() == 4 ? weight.dim(2) : 1, kw = weight.rank() == 4 ? weight.dim(3) : 1;
        if (stride < 1) throw new IllegalArgumentException("conv2d: stride " + stride);
        int ho = outSize(h, kh, stride, pad.top(), pad.bottom()), wo = outSize(w, kw, stride, pad.left(), pad.right());
        if (ho < 1 || wo < 1) throw new IllegalArgumentException("conv2d: " + h + "x" + w + " input is smaller than the " + kh + "x" + kw + " kernel");
        if (x.length < (long) cin * h * w) throw new IllegalArgumentException("conv2d: input holds " + x.length + " values, " + weight + " needs " + cin + "x" + h + "x" + w);
        int m = Math.multiplyExact(ho, wo), k = cin * kh * kw;
        if (out.length < (long) cout * m) throw new IllegalArgumentException("conv2d: output array too small");
        if (bias != null && bias.length != cout) throw new IllegalArgumentException("conv2d: bias has " + bias.length + " values for " + cout + " channels");
    }

    private static void im2col(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Padding pad, float[] out, long blockBytes) {
        int cout = weight.dim(0), cin = weight.dim(1);
        int kh = weight.rank() == 4 ? weight.dim(2) : 1, kw = weight.rank() == 4 ? weight.dim(3) : 1;
        int ho = outSize(h, kh, stride, pad.top(), pad.bottom()), wo = outSize(w, kw, stride, pad.left(), pad.right());
        int m = ho * wo, k = cin * kh * kw;
        int rows = blockRows(k, m, blockBytes);
        float[] cols = new float[rows * k], y = new float[rows * cout];
        Geometry g = new Geometry(cin, h, w, kh, kw, stride, pad.top(), pad.left(), wo);
        for (int p0 = 0; p0 < m; p0 += rows) {
            int p1 = Math.min(m, p0 + rows), n = p1 - p0, start = p0;
            int chunks = Math.min(n, Parallel.threads() * 4);
            Parallel.forEach(chunks, c -> g.gather(x, start + (int) ((long) c * n / chunks), start + (int) ((long) (c + 1) * n / chunks), start, k, cols));
            Matmul.matmul(cols, n, k, weight, bias, y);
            // The product is pixel-major [n, Cout]; the image is channel-major, so write it back transposed, in
            // tiles of 64 pixels whose rows stay in L1 while each channel of the tile is written.
            int cchunks = Math.min(cout, Parallel.threads() * 4);
            Parallel.forEach(cchunks, c -> {
                int co0 = c * cout / cchunks, co1 = (c + 1) * cout / cchunks;
                for (int pb = 0; pb < n; pb += 64) {
                    int pe = Math.min(n, pb + 64);
                    for (int co = co0; co < co1; co++) {
                        int o = co * m + start;
                        for (int p = pb; p < pe; p++) out[o + p] = y[p * cout + co];
                    }
                }
            });
        }
    }

    /** Where each output pixel's receptive field lies in the input. */
    private record Geometry(int cin, int h, int w, int kh, int kw, int stride, int top, int left, int wo) {
        /**
         * Patch rows of output pixels [p0, p1) into cols (row p - base), columns ordered (ci, ky, kx) like the
         * weight. Walks one output-row segment at a time with the pixels innermost, so each input row is read in
         * order and a channel's window lands as one run of its patch row: about twice as fast as walking pixel by
         * pixel through all the input planes.
         */
        void gather(float[] x, int p0, int p1, int base, int k, float[] cols) {
            for (int p = p0; p < p1; ) {
                int oy = p / wo, ox0 = p % wo, ox1 = Math.min(wo, ox0 + (p1 - p));
                int rowBase = (p - base - ox0) * k, iy0 = oy * stride - top;
                // Output columns whose whole kernel window lies inside the input row.
                int lo = Math.clamp(Math.ceilDiv(left, stride), ox0, ox1);
                int hi = Math.clamp(Math.floorDiv(w - kw + left, stride) + 1, lo, ox1);
                boolean rowsInside = kh == 3 && kw == 3 && iy0 >= 0 && iy0 + 3 <= h;
                for (int ci = 0; ci < cin; ci++) {
                    if (rowsInside) {
                        window3x3(x, ci, iy0, ox0, ox1, lo, hi, rowBase, k, cols);
                        continue;
                    }
                    for (int ky = 0; ky < kh; ky++) {
                        int iy = iy0 + ky, col = (ci * kh + ky) * kw;
                        if (iy < 0 || iy >= h) {
                            for (int ox = ox0; ox < ox1; ox++) Arrays.fill(cols, rowBase + ox * k + col, rowBase + ox * k + col + kw, 0f);
                            continue;
                        }
                        int row = (ci * h + iy) * w;
                        edge(x, row, ox0, lo, rowBase, k, col, cols);
                        for (int ox = lo, r = rowBase + lo * k + col, src = row + lo * stride - left; ox < hi; ox++, r += k, src += stride) {
                            for (int kx = 0; kx < kw; kx++) cols[r + kx] = x[src + kx];
                        }
                        edge(x, row, hi, ox1, rowBase, k, col, cols);
                    }
                }
                p += ox1 - ox0;
            }
        }

        /**
         * The common case, a 3x3 window whose three input rows all exist: each pixel's 9 values for channel ci
         * are three 4-lane copies, each spilling one value into the next slot that the following copy (or the
         * next channel) then overwrites. The last channel's third row, which would spill into the next pixel's
         * row, and windows too close to the end of x for a 4-lane load are copied one value at a time.
         */
        private void window3x3(float[] x, int ci, int iy0, int ox0, int ox1, int lo, int hi, int rowBase, int k, float[] cols) {
            int col = ci * 9, row = (ci * h + iy0) * w;
            for (int ky = 0; ky < 3; ky++) edge(x, row + ky * w, ox0, lo, rowBase, k, col + 3 * ky, cols);
            boolean spill = ci < cin - 1;
            int r = rowBase + lo * k + col, s0 = row + lo * stride - left, n = hi - lo;
            int vector = Math.clamp((x.length - 4 - 2 * w - s0) / stride + 1, 0, n);
            int i = 0;
            for (; i < vector; i++, r += k, s0 += stride) {
                FloatVector.fromArray(S4, x, s0).intoArray(cols, r);
                FloatVector.fromArray(S4, x, s0 + w).intoArray(cols, r + 3);
                if (spill) {
                    FloatVector.fromArray(S4, x, s0 + 2 * w).intoArray(cols, r + 6);
                } else {
                    int s2 = s0 + 2 * w;
                    cols[r + 6] = x[s2];
                    cols[r + 7] = x[s2 + 1];
                    cols[r + 8] = x[s2 + 2];
                }
            }
            for (; i < n; i++, r += k, s0 += stride) {
                for (int ky = 0; ky < 3; ky++) {
                    int s = s0 + ky * w, d = r + 3 * ky;
                    cols[d] = x[s];
                    cols[d + 1] = x[s + 1];
                    cols[d + 2] = x[s + 2];
                }
            }
            for (int ky = 0; ky < 3; ky++) edge(x, row + ky * w, hi, ox1, rowBase, k, col + 3 * ky, cols);
        }

        /** Output columns [from, to) whose kernel window crosses the left or right border (zeros outside). */
        private void edge(float[] x, int row, int from, int to, int rowBase, int k, int col, float[] cols) {
            for (int ox = from; ox < to; ox++) {
                int r = rowBase + ox * k + col;
                for (int kx = 0; kx < kw; kx++) {
                    int ix = ox * stride - left + kx;
                    cols[r + kx] = ix >= 0 && ix < w ? x[row + ix] : 0f;
                }
            }
        }
    }
}
