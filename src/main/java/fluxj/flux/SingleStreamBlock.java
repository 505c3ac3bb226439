package fluxj.flux;

import fluxj.tensor.Ops;

/**
 * BFL SingleStreamBlock on the joint sequence: linear1 gives q, k, v and the MLP input in parallel; linear2 maps
 * the concatenation (attention output, GELU(MLP input)) back to the hidden width.
 */
record SingleStreamBlock(Modulation modulation, Linear linear1, Linear linear2, QkNorm norm, int hidden, int heads, int mlpHidden) {
    static final float EPS = 1e-6f;

    static SingleStreamBlock load(Weights w, FluxConfig c, int i) {
        String p = "single_blocks." + i + ".";
        int h = c.hidden(), m = c.mlpHidden();
        return new SingleStreamBlock(
                new Modulation(w.linear(p + "modulation.lin", h, true, 3 * h), h),
                w.linear(p + "linear1", h, true, h, h, h, m),
                w.linear(p + "linear2", h + m, true, h),
                QkNorm.load(w, p + "norm.", c.headDim()),
                h, c.heads(), m);
    }

    /** Updates x [len, hidden] in place. */
    void forward(float[] x, int len, float[] siluVec, Rope.Angles pe, Workspace ws) {
        Modulation.Out mod = modulation.apply(siluVec, true)[0];
        Ops.layerNorm(x, len, hidden, mod.onePlusScale(), mod.shift(), EPS, ws.norm());
        linear1.forward(ws.norm(), len, ws.q(), ws.k(), ws.v(), ws.mlp());
        norm.apply(ws.q(), ws.k(), len, heads);
        FluxKernels.attention(ws, len, hidden, heads, pe);

        int width = hidden + mlpHidden;
        FluxKernels.copyRows(ws.attn(), 0, len, hidden, ws.cat(), 0, width, 0);
        FluxKernels.geluTanhInto(ws.mlp(), len, mlpHidden, ws.cat(), width, hidden);
        linear2.forward(ws.cat(), len, ws.proj());
        FluxKernels.addGated(x, ws.proj(), mod.gate(), len, hidden);
    }
}
