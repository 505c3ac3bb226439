package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.tensor.ChannelsLast;
import fluxj.tensor.ConvInput;
import fluxj.tensor.Ops;

import java.util.Arrays;

/** {@code x + conv2(silu(norm2(conv1(silu(norm1(x))))))}, with a 1x1 shortcut on x when the width changes. */
record ResnetBlock(int in, int out, GroupNorm norm1, Conv conv1, GroupNorm norm2, Conv conv2, Conv shortcut) {

    static ResnetBlock load(Checkpoint ck, String prefix, int in, int out, int groups) {
        Conv shortcut = in == out ? null : Conv.pointwise(ck, prefix + "nin_shortcut", in, out);
        return new ResnetBlock(in, out, GroupNorm.load(ck, prefix + "norm1", in, groups), Conv.same3x3(ck, prefix + "conv1", in, out),
                GroupNorm.load(ck, prefix + "norm2", out, groups), Conv.same3x3(ck, prefix + "conv2", out, out), shortcut);
    }

    /** x [h*w, in] -> [h*w, out], channels-last. */
    public float[] forward(float[] x, int h, int w) { return forward(x, h, w, new Recycler()); }

    /**
     * As above, taking its arrays from {@code arrays} and handing back those it is done with (not x): those of the
     * output's width, the only ones the following blocks can take.
     */
    float[] forward(float[] x, int h, int w, Recycler arrays) {
        int hw = h * w;
        float[] a = norm1.silu(x, hw, arrays.take(in * hw));
        float[] b = conv1.apply(a, h, w, arrays.take(out * hw));
        if (in == out) arrays.give(a);
        float[] y = conv2.apply(norm2.siluInPlace(b, hw), h, w, arrays.take(out * hw));
        arrays.give(b);
        if (shortcut == null) {
            Ops.add(y, x, out * hw);
        } else {
            float[] s = shortcut.apply(x, h, w, arrays.take(out * hw));
            Ops.add(y, s, out * hw);
            arrays.give(s);
        }
        return y;
    }

    /**
     * The forward pass for a kernel that {@link Conv#fused() fuses}: each norm + SiLU is applied as the kernel
     * reads its convolution's input, the skip added as it writes conv2's output, norm2's statistics summed as it
     * writes conv1's. {@code xMoments} are x's when its producer summed them (else norm1 takes them from x); the
     * output's are added to {@code yMoments} when not null. The output reuses conv1's array, which the kernel has
     * read by the time it writes.
     */
    float[] forward(float[] x, ChannelsLast.Moments xMoments, int h, int w, Recycler arrays, ChannelsLast.Moments yMoments) {
        int hw = h * w;
        ChannelsLast.Affine f1 = xMoments != null ? norm1.affine(xMoments) : norm1.affine(x, hw);
        ChannelsLast.Moments bMoments = new ChannelsLast.Moments(out);
        float[] b = conv1.apply(ConvInput.normalized(x, f1, true), h, w, arrays.take(out * hw), null, bMoments);
        float[] skip = shortcut == null ? x : shortcut.apply(ConvInput.of(x, in), h, w, arrays.take(out * hw), null, null);
        float[] y = conv2.apply(ConvInput.normalized(b, norm2.affine(bMoments), true), h, w, b, skip, yMoments);
        if (shortcut != null) arrays.give(skip);
        return y;
    }

    /**
     * As {@link #forward(float[], int, int)}, the same values, with the convolutions run in {@link Bands} of
     * {@code rows} rows: besides bands, it holds x and conv1's output (and the output when the width changes; else
     * the output overwrites x, which is then no longer valid). Each GroupNorm takes its statistics from a whole
     * array, as the untiled block does.
     */
    float[] forwardInBands(float[] x, int h, int w, int rows) {
        int hw = h * w;
        float[] b = new float[Math.multiplyExact(out, hw)];
        Bands.convolve(conv1, x, h, w, norm1.affine(x, hw), rows, Bands.into(b, w, out));
        // conv2 reads b around each band, the skip only x within it: the output may replace x band by band.
        float[] y = in == out ? x : new float[out * hw];
        Bands.convolve(conv2, b, h, w, norm2.affine(b, hw), rows, (o0, o1, band) -> {
            int from = o0 * w, n = (o1 - o0) * w;
            float[] skip = x;
            int at = from * in;
            if (shortcut != null) {
                skip = shortcut.apply(Arrays.copyOfRange(x, from * in, (from + n) * in), o1 - o0, w);
                at = 0;
            }
            for (int i = 0; i < n * out; i++) y[from * out + i] = band[i] + skip[at + i];
        });
        return y;
    }

    /**
     * As {@link #forwardInBands} without holding conv1's output: a first pass over the bands computes it only for
     * norm2's statistics ({@link ChannelsLast.Moments}), a second computes it again on each band and a row either
     * side for conv2. conv1 thus runs twice (the block's arithmetic x1.5), and the block holds only x (which the
     * output overwrites when the width stays: the two rows above each band that its conv1 still reads are kept
     * aside before they are overwritten) and the output when the width changes.
     */
    float[] forwardStreamed(float[] x, int h, int w, int rows) {
        int hw = h * w, step = Math.max(1, Math.min(rows, h));
        ChannelsLast.Affine f1 = norm1.affine(x, hw);
        ChannelsLast.Moments moments = new ChannelsLast.Moments(out);
        Bands.convolve(conv1, x, h, w, f1, rows, (o0, o1, band) -> moments.add(band, (o1 - o0) * w));
        ChannelsLast.Affine f2 = norm2.affine(moments);
        float[] y = in == out ? x : new float[Math.multiplyExact(out, hw)];
        int halo = conv1.inputSpan(1) / 2 + conv2.inputSpan(1) / 2;
        float[] a = new float[Math.multiplyExact(Math.min(h, step + 2 * halo), w * in)];
        float[] b = new float[Math.multiplyExact(Math.min(h, step + 2), w * out)], c = new float[b.length];
        float[] o = new float[Math.multiplyExact(step, w * out)];
        // x's rows from carryFrom on (up to the band) as they were before the bands above overwrote them.
        float[] carry = new float[halo * w * in], nextCarry = new float[carry.length];
        int carryFrom = 0;
        for (int o0 = 0; o0 < h; o0 += step) {
            int o1 = Math.min(h, o0 + step);
            int b0 = conv2.firstInputRow(o0), b1 = conv2.endInputRow(o1, h), a0 = conv1.firstInputRow(b0), a1 = conv1.endInputRow(b1, h);
            int fromX = y == x ? Math.max(a0, o0) : a0;
            if (fromX > a0) ChannelsLast.normalize(carry, (a0 - carryFrom) * w, (fromX - a0) * w, f1, true, a, 0);
            ChannelsLast.normalize(x, fromX * w, (a1 - fromX) * w, f1, true, a, (fromX - a0) * w);
            conv1.applyRows(a, h, w, b0, b1, b);
            ChannelsLast.normalize(b, 0, (b1 - b0) * w, f2, true, c, 0);
            conv2.applyRows(c, h, w, o0, o1, o);
            int from = o0 * w, n = (o1 - o0) * w;
            if (y == x) {
                // Before x's rows of this band are overwritten: the last rows the next band's conv1 reads.
                int k0 = Math.max(0, o1 - halo);
                for (int r = k0; r < o1; r++) {
                    float[] src = r < o0 ? carry : x;
                    int at = r < o0 ? (r - carryFrom) * w * in : r * w * in;
                    System.arraycopy(src, at, nextCarry, (r - k0) * w * in, w * in);
                }
                float[] t = carry;
                carry = nextCarry;
                nextCarry = t;
                carryFrom = k0;
            }
            float[] skip = x;
            int at = from * in;
            if (shortcut != null) {
                skip = shortcut.apply(Arrays.copyOfRange(x, from * in, (from + n) * in), o1 - o0, w);
                at = 0;
            }
            for (int i = 0; i < n * out; i++) y[from * out + i] = o[i] + skip[at + i];
        }
        return y;
    }

    /** Peak bytes of {@link #forwardStreamed} on an [h*w, in] input (input included). */
    long streamedBytes(int h, int w, int rows) {
        long hw = (long) h * w, step = Math.max(1, Math.min(rows, h));
        long held = 4L * (in + (in == out ? 0 : out)) * hw;
        long band = 4L * w * (Math.min(h, step + 4) * in + 2 * Math.min(h, step + 2) * out + step * out + 4L * in)
                + Math.max(conv1.scratchBytes(Math.min(h, step + 2) * w), conv2.scratchBytes(step * w));
        long skip = shortcut == null ? 0 : 4L * (in + out) * step * w + shortcut.scratchBytes(step * w);
        return Math.max(4L * in * hw + Bands.bytes(conv1, h, w, rows), held + band + skip);
    }

    /** Peak bytes of {@link #forwardInBands} on an [h*w, in] input (input included). */
    long bandedBytes(int h, int w, int rows) {
        long hw = (long) h * w, held = 4L * (in + out + (in == out ? 0 : out)) * hw;
        long skip = shortcut == null ? 0 : 4L * (in + out) * Math.min(rows, h) * w + shortcut.scratchBytes((long) Math.min(rows, h) * w);
        return Math.max(4L * (in + out) * hw + Bands.bytes(conv1, h, w, rows), held + Bands.bytes(conv2, h, w, rows) + skip);
    }

    /** Its convolutions, each with the h x w input it runs on. */
    void convs(int h, int w, Decoder.ConvUse use) {
        use.at(conv1, h, w);
        use.at(conv2, h, w);
        if (shortcut != null) use.at(shortcut, h, w);
    }

    /** Peak bytes of live activations while running on an [h*w, in] input (input included). */
    long peakBytes(int h, int w) {
        long hw = (long) h * w;
        long norm1Conv1 = (2L * in + out) * hw * 4 + conv1.scratchBytes(hw);
        long conv2AndShortcut = (in + 3L * out) * hw * 4 + conv2.scratchBytes(hw);
        return Math.max(norm1Conv1, conv2AndShortcut);
    }
}
