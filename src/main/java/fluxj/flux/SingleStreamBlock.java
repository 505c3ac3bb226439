package fluxj.flux;

import fluxj.tensor.Epilogue;
import fluxj.tensor.Ops;

/**
 * BFL SingleStreamBlock on the joint sequence: linear1 gives q, k, v and the MLP input in parallel; linear2 maps
 * the concatenation (attention output, GELU(MLP input)) back to the hidden width. GELU is linear1's epilogue on the
 * MLP part (inside the product on oneDNN).
 */
record SingleStreamBlock(Modulation modulation, Linear linear1, Linear linear2, QkNorm norm, int hidden, int heads, int mlpHidden) {
    static final float EPS = 1e-6f;
    // linear1's parts q, k, v and the MLP input, which GELU turns into its hidden layer
    private static final Epilogue[] MLP_GELU = {Epilogue.NONE, Epilogue.NONE, Epilogue.NONE, Epilogue.GELU_TANH};

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
        linear1.forward(ws.norm(), len, MLP_GELU, ws.q(), ws.k(), ws.v(), ws.mlp());
        norm.apply(ws.q(), ws.k(), len, heads);
        FluxKernels.attention(ws, len, hidden, heads, pe);

        int width = hidden + mlpHidden;
        FluxKernels.copyRows(ws.attn(), 0, len, hidden, ws.cat(), 0, width, 0);
        FluxKernels.copyRows(ws.mlp(), 0, len, mlpHidden, ws.cat(), 0, width, hidden);
        linear2.forward(ws.cat(), len, ws.proj());
        FluxKernels.addGated(x, ws.proj(), mod.gate(), len, hidden);
    }
}
