package fluxj.tensor;

import fluxj.tensor.onednn.MatmulBackend;
import fluxj.tensor.onednn.OneDnnConv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.SoftReference;
import java.util.Arrays;
import java.util.function.Supplier;

/**
 * 2-D convolution of one channels-last image (batch 1, [h*w, C]: each pixel's channels contiguous) as matrix
 * multiplies through {@link Matmul}. The output pixels are cut into blocks; each block's input patches are gathered
 * into a [pixels, kh*kw*Cin] matrix (blocked im2col) and multiplied by the weight seen as [Cout, kh*kw*Cin]. In
 * this layout a patch row is kh*kw copies of whole channel vectors, and the product [pixels, Cout] is already the
 * next layer's channels-last input: nothing is transposed. The weight must be in the matching tap-major order
 * ({@link #channelsLast}); a 1x1 stride-1 convolution multiplies the image itself, with no gather. With
 * {@code --matmul onednn} oneDNN's bf16 convolution runs instead ({@link OneDnnConv}), on the same layouts.
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
    private static final ConvKernel IM2COL = new ConvKernel() {
        @Override
        public String name() { return "im2col + " + Matmul.kernel().name(); }

        @Override
        public void conv2d(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Padding pad, float[] out) {
            im2col(x, h, w, weight, bias, stride, pad, out, BLOCK_BYTES);
        }
    };
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

    /**
     * A stored convolution weight [Cout, Cin, kh, kw] reordered to [Cout, kh, kw, Cin], the order of a
     * channels-last patch row, in the same dtype and scale (no widening). A [Cout, Cin] weight is returned as it
     * is and a 1x1 one viewed as [Cout, 1, 1, Cin]: their order is the same either way. A copy lives in {@code arena}.
     */
    public static Tensor channelsLast(Tensor w, Arena arena) {
        if (w.rank() == 2) return w;
        if (w.rank() != 4) throw new IllegalArgumentException("conv2d: weight " + w + " is not [Cout, Cin, kh, kw]");
        int cout = w.dim(0), cin = w.dim(1), taps = w.dim(2) * w.dim(3), size = w.dtype().byteSize();
        long[] shape = {cout, w.dim(2), w.dim(3), cin};
        if (taps == 1) return new Tensor(w.name(), w.dtype(), shape, w.data(), w.scale(), w.source());
        MemorySegment src = w.data(), dst = arena.allocate(w.numel() * size, 8);
        Parallel.forEach(cout, co -> {
            long base = (long) co * cin * taps;
            for (int ci = 0; ci < cin; ci++) {
                for (int t = 0; t < taps; t++) {
                    long from = (base + (long) ci * taps + t) * size, to = (base + (long) t * cin + ci) * size;
                    switch (size) {
                        case 1 -> dst.set(ValueLayout.JAVA_BYTE, to, src.get(ValueLayout.JAVA_BYTE, from));
                        case 2 -> dst.set(ValueLayout.JAVA_SHORT_UNALIGNED, to, src.get(ValueLayout.JAVA_SHORT_UNALIGNED, from));
                        case 4 -> dst.set(ValueLayout.JAVA_INT_UNALIGNED, to, src.get(ValueLayout.JAVA_INT_UNALIGNED, from));
                        default -> throw new IllegalArgumentException("conv2d: " + w.dtype() + " weights");
                    }
                }
            }
        });
        return new Tensor(w.name(), w.dtype(), shape, dst, w.scale(), w.source());
    }

    /**
     * Bytes of the scratch buffers one convolution uses (patch matrix, and an output block when the image takes
     * several): none for a 1x1 kernel, taken to have stride 1 and no padding (it then multiplies the image itself).
     */
    public static long scratchBytes(int cin, int kh, int kw, int cout, long outPixels) {
        if (kh == 1 && kw == 1) return 0;
        int k = cin * kh * kw;
        long rows = blockRows(k, outPixels);
        return 4L * rows * (rows < outPixels ? k + cout : k);
    }

    /**
     * y = conv(x) + bias with x [h*w, Cin] channels-last and weight [Cout, kh, kw, Cin] ({@link #channelsLast}) or
     * [Cout, Cin] in any float dtype. Returns [ho*wo, Cout].
     */
    public static float[] conv2d(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Padding pad) {
        int kh = weight.rank() == 4 ? weight.dim(1) : 1, kw = weight.rank() == 4 ? weight.dim(2) : 1;
        int ho = outSize(h, kh, stride, pad.top(), pad.bottom()), wo = outSize(w, kw, stride, pad.left(), pad.right());
        float[] out = new float[Math.multiplyExact(weight.dim(0), Math.multiplyExact(ho, wo))];
        conv2d(x, h, w, weight, bias, stride, pad, out);
        return out;
    }

    /**
     * As above into {@code out} [ho*wo, Cout] (every value of which is written: it may hold anything), by the
     * {@link #kernel()} in use.
     */
    public static void conv2d(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Padding pad, float[] out) {
        validate(x, h, w, weight, bias, stride, pad, out);
        kernel().conv2d(x, h, w, weight, bias, stride, pad, out);
    }

    /**
     * As {@link ConvKernel#conv2d(ConvInput, int, int, Tensor, float[], int, Padding, float[], float[], ChannelsLast.Moments)}
     * by the {@link #kernel()} in use, h x w being the size of the image {@code in} describes.
     */
    public static void conv2d(ConvInput in, int h, int w, Tensor weight, float[] bias, int stride, Padding pad, float[] out,
                              float[] skip, ChannelsLast.Moments moments) {
        int sh = in.upsample2x() ? h / 2 : h, sw = in.upsample2x() ? w / 2 : w;
        if (in.upsample2x() && (h % 2 != 0 || w % 2 != 0)) throw new IllegalArgumentException("conv2d: " + h + "x" + w + " is no 2x upsample");
        if (in.x().length < (long) in.channels() * sh * sw) throw new IllegalArgumentException("conv2d: input holds " + in.x().length + " values, not " + sh + "x" + sw + "x" + in.channels());
        if (in.channels() != weight.dim(-1)) throw new IllegalArgumentException("conv2d: " + in.channels() + " input channels for " + weight);
        validateShapes(h, w, weight, bias, stride, pad, out);
        int kh = weight.rank() == 4 ? weight.dim(1) : 1, kw = weight.rank() == 4 ? weight.dim(2) : 1;
        long n = (long) weight.dim(0) * outSize(h, kh, stride, pad.top(), pad.bottom()) * outSize(w, kw, stride, pad.left(), pad.right());
        if (skip != null && skip.length < n) throw new IllegalArgumentException("conv2d: skip array too small");
        kernel().conv2d(in, h, w, weight, bias, stride, pad, out, skip, moments);
    }

    /** The backend in use: oneDNN's convolution with {@code --matmul onednn}, else the Java im2col path. */
    public static ConvKernel kernel() { return OVERRIDE.orElse(KERNEL); }

    /** oneDNN's bf16 convolution (needs the library; scaled weights take im2col on the matmul backend). */
    public static ConvKernel oneDnn() { return OneDnnConv.available() ? new OneDnnConv(IM2COL) : IM2COL; }

    /** Runs {@code body} with {@code kernel} doing this thread's convolutions (benchmarks compare backends in one run). */
    public static void using(ConvKernel kernel, Runnable body) {
        ScopedValue.where(OVERRIDE, kernel).run(body);
    }

    /** {@code body}'s result with {@code kernel} doing this thread's convolutions. */
    public static <T> T computing(ConvKernel kernel, Supplier<T> body) {
        return ScopedValue.where(OVERRIDE, kernel).call(body::get);
    }

    /** The Java path with a given patch-matrix budget per block (tests cross block borders cheaply). */
    static void conv2d(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Padding pad, float[] out, long blockBytes) {
        validate(x, h, w, weight, bias, stride, pad, out);
        im2col(x, h, w, weight, bias, stride, pad, out, blockBytes);
    }

    private static void validate(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Padding pad, float[] out) {
        validateShapes(h, w, weight, bias, stride, pad, out);
        if (x.length < (long) weight.dim(-1) * h * w) throw new IllegalArgumentException("conv2d: input holds " + x.length + " values, " + weight + " needs " + h + "x" + w + "x" + weight.dim(-1));
    }

    private static void validateShapes(int h, int w, Tensor weight, float[] bias, int stride, Padding pad, float[] out) {
        if (weight.rank() != 4 && weight.rank() != 2) throw new IllegalArgumentException("conv2d: weight " + weight + " is not [Cout, kh, kw, Cin]");
        int cout = weight.dim(0);
        int kh = weight.rank() == 4 ? weight.dim(1) : 1, kw = weight.rank() == 4 ? weight.dim(2) : 1;
        if (stride < 1) throw new IllegalArgumentException("conv2d: stride " + stride);
        int ho = outSize(h, kh, stride, pad.top(), pad.bottom()), wo = outSize(w, kw, stride, pad.left(), pad.right());
        if (ho < 1 || wo < 1) throw new IllegalArgumentException("conv2d: " + h + "x" + w + " input is smaller than the " + kh + "x" + kw + " kernel");
        if (out.length < (long) cout * Math.multiplyExact(ho, wo)) throw new IllegalArgumentException("conv2d: output array too small");
        if (bias != null && bias.length != cout) throw new IllegalArgumentException("conv2d: bias has " + bias.length + " values for " + cout + " channels");
    }

    private static void im2col(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Padding pad, float[] out, long blockBytes) {
        int cout = weight.dim(0), cin = weight.dim(-1);
        int kh = weight.rank() == 4 ? weight.dim(1) : 1, kw = weight.rank() == 4 ? weight.dim(2) : 1;
        int ho = outSize(h, kh, stride, pad.top(), pad.bottom()), wo = outSize(w, kw, stride, pad.left(), pad.right());
        int m = ho * wo, k = cin * kh * kw;
        if (kh == 1 && kw == 1 && stride == 1 && pad.equals(Padding.NONE)) {
            Matmul.matmul(x, m, k, weight, bias, out);
            return;
        }

        int rows = blockRows(k, m, blockBytes);
        Scratch scratch = Scratch.get(rows * k, rows < m ? rows * cout : 0);
        float[] cols = scratch.cols, y = rows < m ? scratch.y : out;
        Geometry g = new Geometry(cin, h, w, kh, kw, stride, pad.top(), pad.left(), wo);
        for (int p0 = 0; p0 < m; p0 += rows) {
            int p1 = Math.min(m, p0 + rows), n = p1 - p0, start = p0;
            int chunks = Math.min(n, Parallel.threads() * 4);
            Parallel.forEach(chunks, c -> g.gather(x, start + (int) ((long) c * n / chunks), start + (int) ((long) (c + 1) * n / chunks), start, cols));
            Matmul.matmul(cols, n, k, weight, bias, y);
            // Matmul writes from the start of its output: a block other than the whole image is copied into place.
            if (y != out) {
                Parallel.forEach(chunks, c -> {
                    int a = (int) ((long) c * n / chunks), b = (int) ((long) (c + 1) * n / chunks);
                    System.arraycopy(y, a * cout, out, (start + a) * cout, (b - a) * cout);
                });
            }
        }
    }

    /**
     * The patch matrix and product block, kept for the calling thread between convolutions: a network runs dozens
     * back to back, and a fresh ~100 MB pair for each made the collector grow the heap and touch new pages (some
     * decodes ran 25% slower with three times the peak memory). Softly held, so the collector may still take it
     * when the heap is short. Every element a block reads is written first, so stale contents never leak.
     */
    private record Scratch(float[] cols, float[] y) {
        private static final ThreadLocal<SoftReference<Scratch>> CACHE = new ThreadLocal<>();

        static Scratch get(int colsLength, int yLength) {
            SoftReference<Scratch> ref = CACHE.get();
            Scratch s = ref == null ? null : ref.get();
            if (s == null || s.cols.length < colsLength || s.y.length < yLength) {
                // Grown to the larger of old and new, so alternating layer shapes do not reallocate each time; the
                // old pair is dropped before the new one is allocated.
                int c = Math.max(colsLength, s == null ? 0 : s.cols.length), n = Math.max(yLength, s == null ? 0 : s.y.length);
                s = null;
                CACHE.remove();
                s = new Scratch(new float[c], new float[n]);
                CACHE.set(new SoftReference<>(s));
            }
            return s;
        }
    }

    /**
     * Drops this thread's im2col scratch (up to {@link #BLOCK_BYTES} plus an output block): a phase's workspace, which
     * the memory plan does not carry into the next phase.
     */
    public static void releaseScratch() {
        Scratch.CACHE.remove();
    }

    /** Where each output pixel's receptive field lies in the input. */
    private record Geometry(int cin, int h, int w, int kh, int kw, int stride, int top, int left, int wo) {
        /**
         * Patch rows of output pixels [p0, p1) into cols (row p - base), columns ordered (ky, kx, ci) like the
         * channels-last weight: each tap is one copy of an input pixel's channels, or zeros outside the image.
         * Along a kernel row the kw input pixels are adjacent (whatever the stride), so when all of them are
         * inside the image that row is one copy of kw*cin values.
         */
        void gather(float[] x, int p0, int p1, int base, float[] cols) {
            int k = kh * kw * cin;
            for (int p = p0; p < p1; p++) {
                int oy = p / wo, ox = p % wo, r = (p - base) * k;
                int iy0 = oy * stride - top, ix0 = ox * stride - left;
                boolean rowInside = ix0 >= 0 && ix0 + kw <= w;
                for (int ky = 0; ky < kh; ky++) {
                    int iy = iy0 + ky, d = r + ky * kw * cin;
                    if (iy < 0 || iy >= h) {
                        Arrays.fill(cols, d, d + kw * cin, 0f);
                    } else if (rowInside) {
                        System.arraycopy(x, (iy * w + ix0) * cin, cols, d, kw * cin);
                    } else {
                        for (int kx = 0; kx < kw; kx++, d += cin) {
                            int ix = ix0 + kx;
                            if (ix < 0 || ix >= w) Arrays.fill(cols, d, d + cin, 0f);
                            else System.arraycopy(x, (iy * w + ix) * cin, cols, d, cin);
                        }
                    }
                }
            }
        }
    }
}
