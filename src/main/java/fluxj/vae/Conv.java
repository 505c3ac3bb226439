package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.tensor.ChannelsLast;
import fluxj.tensor.Conv2d;
import fluxj.tensor.ConvInput;
import fluxj.tensor.ConvKernel;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Tensor;
import fluxj.tensor.onednn.OneDnnConv;

import java.lang.foreign.Arena;
import java.util.Arrays;

/**
 * A convolution layer on channels-last activations: stored weight [Cout, Cin, k, k] (or [Cout, Cin] for 1x1), f32
 * bias, stride, padding. The weight is reordered tap-major ({@link Conv2d#channelsLast}, same dtype) on first use,
 * so a part of the autoencoder that never runs (the encoder, when only decoding) holds no second copy.
 */
final class Conv {
    private final Tensor weight;
    private final float[] bias;
    private final int stride;
    private final Conv2d.Padding pad;
    private volatile Tensor taps;
    /** Holds the tap-major copy, from first use until the checkpoint closes. */
    private Arena copies;

    private Conv(Tensor weight, float[] bias, int stride, Conv2d.Padding pad) {
        this.weight = weight;
        this.bias = bias;
        this.stride = stride;
        this.pad = pad;
    }

    static Conv load(Checkpoint ck, String name, int cin, int cout, int kernel, int stride, Conv2d.Padding pad) {
        Tensor w = ck.get(name + ".weight");
        boolean ok = Arrays.equals(w.shape(), new long[]{cout, cin, kernel, kernel})
                || (kernel == 1 && Arrays.equals(w.shape(), new long[]{cout, cin}));
        if (!ok || !w.dtype().isFloat() || w.dtype().isBlock()) {
            throw new ModelFormatException(w.source(), "tensor '" + w.name() + "' is " + w + ", expected a float ["
                    + cout + ", " + cin + ", " + kernel + ", " + kernel + "] convolution weight" + (w.dtype().isBlock() ? " (not block-quantized)" : ""));
        }
        float[] b = ck.find(name + ".bias").map(t -> t.expectShape(cout).toFloats()).orElse(null);
        Conv conv = new Conv(w, b, stride, pad);
        ck.onClose(conv::releaseCopies);
        return conv;
    }

    /** 3x3, stride 1, zero padding 1: the size-keeping convolution of every ResNet block. */
    static Conv same3x3(Checkpoint ck, String name, int cin, int cout) {
        return load(ck, name, cin, cout, 3, 1, Conv2d.Padding.same(3));
    }

    static Conv pointwise(Checkpoint ck, String name, int cin, int cout) {
        return load(ck, name, cin, cout, 1, 1, Conv2d.Padding.NONE);
    }

    /** Scratch bytes of one application producing {@code outPixels} pixels. */
    long scratchBytes(long outPixels) {
        int kh = weight.rank() == 4 ? weight.dim(2) : 1, kw = weight.rank() == 4 ? weight.dim(3) : 1;
        return Conv2d.scratchBytes(weight.dim(1), kh, kw, weight.dim(0), outPixels);
    }

    /** Multiply-adds x 2 of one application producing {@code outPixels} pixels. */
    double flops(long outPixels) {
        int kh = weight.rank() == 4 ? weight.dim(2) : 1, kw = weight.rank() == 4 ? weight.dim(3) : 1;
        return 2.0 * weight.dim(0) * weight.dim(1) * kh * kw * outPixels;
    }

    /**
     * Bytes of the weight copies this layer holds once it has run, by the {@link Conv2d#kernel()} in use: the
     * tap-major copy in the stored dtype for a kernel larger than 1x1 (a 1x1 weight is used as it is) and, under
     * oneDNN, its bf16 (or f32) copy in the primitive's layout (counted at 2 (4) bytes a parameter: oneDNN may pad a
     * blocked layout, e.g. conv_out's 3 output channels, by a few KB). Scaled weights take im2col on the matmul
     * backend, packing nothing.
     */
    long weightCopyBytes() {
        long taps = weight.rank() == 4 && weight.dim(2) * weight.dim(3) > 1 ? weight.numel() * weight.dtype().byteSize() : 0;
        long packed = Conv2d.kernel() instanceof OneDnnConv k && weight.scale() == 1f ? k.valueBytes() : 0;
        return taps + packed * weight.numel();
    }

    /** Bytes of oneDNN's source buffer (bf16, or f32 under its f32 convolution) for one application to an h x w input. */
    long oneDnnSourceBytes(int h, int w) {
        long bytes = Conv2d.kernel() instanceof OneDnnConv k ? k.valueBytes() : 2;
        return bytes * weight.dim(1) * h * w;
    }

    /** Bytes of oneDNN's f32 destination buffer for one application to an h x w input. */
    long oneDnnDestinationBytes(int h, int w) {
        int kh = weight.rank() == 4 ? weight.dim(2) : 1, kw = weight.rank() == 4 ? weight.dim(3) : 1;
        long ho = Conv2d.outSize(h, kh, stride, pad.top(), pad.bottom()), wo = Conv2d.outSize(w, kw, stride, pad.left(), pad.right());
        return 4L * weight.dim(0) * ho * wo;
    }

    int in() { return weight.dim(1); }

    int out() { return weight.dim(0); }

    /** Input rows (padding included) that {@code rows} consecutive output rows read. */
    int inputSpan(int rows) { return (rows - 1) * stride + kernelSize(); }

    private int kernelSize() { return weight.rank() == 4 ? weight.dim(2) : 1; }

    /** Output rows on an h-row input. */
    int outRows(int h) { return Conv2d.outSize(h, kernelSize(), stride, pad.top(), pad.bottom()); }

    /** Output columns on a w-column input. */
    int outCols(int w) { return Conv2d.outSize(w, kernelSize(), stride, pad.left(), pad.right()); }

    /** The first input row that output rows from {@code o0} on read (rows above the image are its zero padding). */
    int firstInputRow(int o0) { return Math.max(0, o0 * stride - pad.top()); }

    /** One past the last input row of an h-row input that output rows before {@code o1} read. */
    int endInputRow(int o1, int h) { return Math.min(h, (o1 - 1) * stride - pad.top() + kernelSize()); }

    /**
     * Output rows [o0, o1) of {@link #apply} on an h x w input, from {@code rows} holding only the input rows
     * [{@link #firstInputRow}(o0), {@link #endInputRow}(o1, h)): the band is convolved with zero padding where it
     * meets the image's border and none where it was cut, so each output pixel sums the same products as on the
     * whole input. Written to out [(o1 - o0) * wo, Cout] from its start.
     */
    float[] applyRows(float[] rows, int h, int w, int o0, int o1, float[] out) {
        int r0 = firstInputRow(o0), r1 = endInputRow(o1, h);
        int top = r0 - (o0 * stride - pad.top()), bottom = (o1 - 1) * stride - pad.top() + kernelSize() - r1;
        Conv2d.conv2d(rows, r1 - r0, w, taps(), bias, stride, new Conv2d.Padding(top, pad.left(), bottom, pad.right()), out);
        return out;
    }

    /** x [h*w, Cin] -> [ho*wo, Cout]. */
    float[] apply(float[] x, int h, int w) { return Conv2d.conv2d(x, h, w, taps(), bias, stride, pad); }

    /** As {@link #apply(float[], int, int)} into {@code out}, whose old contents are overwritten. */
    float[] apply(float[] x, int h, int w, float[] out) {
        Conv2d.conv2d(x, h, w, taps(), bias, stride, pad, out);
        return out;
    }

    /**
     * As {@link #apply(float[], int, int, float[])} on the image {@code in} describes (h x w after its upsample),
     * plus {@code skip} when not null, out's moments added to {@code moments} when not null; out may be
     * {@code in.x()}. See {@link ConvKernel#conv2d(ConvInput, int, int, Tensor, float[], int, Conv2d.Padding, float[], float[], ChannelsLast.Moments)}.
     */
    float[] apply(ConvInput in, int h, int w, float[] out, float[] skip, ChannelsLast.Moments moments) {
        Conv2d.conv2d(in, h, w, taps(), bias, stride, pad, out, skip, moments);
        return out;
    }

    /** Whether the kernel in use maps inputs, adds skips and sums moments in its own passes (then the fused forms run). */
    static boolean fused() { return Conv2d.kernel().fusesInput(); }

    private Tensor taps() {
        Tensor t = taps;
        if (t == null) {
            synchronized (this) {
                t = taps;
                if (t == null) {
                    copies = Arena.ofShared();
                    taps = t = Conv2d.channelsLast(weight, copies);
                }
            }
        }
        return t;
    }

    /** Bytes of the tap-major copy held now (0 before first use and after release). */
    synchronized long heldCopyBytes() {
        return taps == null || taps.data() == weight.data() ? 0 : taps.data().byteSize();
    }

    /** Frees the weight copies (tap-major and oneDNN's) with the weights they copy: the checkpoint is closing. */
    private synchronized void releaseCopies() {
        if (taps == null) return;
        // instanceof does not initialise oneDNN's classes on the Java path; a copy packed under another kernel
        // (benchmarks switch) is left to OneDnnConv's cleaner.
        if (Conv2d.kernel() instanceof OneDnnConv) OneDnnConv.release(taps);
        taps = null;
        copies.close();
        copies = null;
    }
}
