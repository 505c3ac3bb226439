package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.tensor.Ops;

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
            Ops.add(y, x, y.length);
        } else {
            float[] s = shortcut.apply(x, h, w, arrays.take(out * hw));
            Ops.add(y, s, y.length);
            arrays.give(s);
        }
        return y;
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
