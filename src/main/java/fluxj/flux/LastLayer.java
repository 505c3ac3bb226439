package fluxj.flux;

import fluxj.tensor.Ops;

/** BFL LastLayer: adaLN (shift, scale) from SiLU(vec), LayerNorm, then the projection to the output channels. */
record LastLayer(Modulation adaLN, Linear linear, int hidden) {
    static final float EPS = 1e-6f;

    static LastLayer load(Weights w, FluxConfig c) {
        int h = c.hidden();
        return new LastLayer(new Modulation(w.linear("final_layer.adaLN_modulation.1", h, true, h, h), h),
                w.linear("final_layer.linear", h, true, c.outChannels()), h);
    }

    /** The output [rows, outChannels] of the first {@code rows} rows of x. */
    float[] forward(float[] x, int rows, float[] siluVec, Workspace ws) {
        Modulation.Out mod = adaLN.apply(siluVec, false)[0];
        Ops.layerNorm(x, rows, hidden, mod.onePlusScale(), mod.shift(), EPS, ws.norm());
        return linear.apply(ws.norm(), rows);
    }
}
