package fluxj.flux;

import fluxj.tensor.Epilogue;
import fluxj.tensor.Ops;

/**
 * BFL DoubleStreamBlock: image and text streams with their own weights, modulated by vec, attending jointly.
 * Image rows come first in the joint attention arrays, so the image projections write straight into them.
 */
record DoubleStreamBlock(Modulation imgMod, Modulation txtMod, Linear imgQkv, Linear txtQkv, QkNorm imgNorm, QkNorm txtNorm,
                         Linear imgProj, Linear txtProj, Linear imgMlp0, Linear imgMlp2, Linear txtMlp0, Linear txtMlp2,
                         int hidden, int heads) {
    static final float EPS = 1e-6f;

    static DoubleStreamBlock load(Weights w, FluxConfig c, int i) {
        String p = "double_blocks." + i + ".";
        int h = c.hidden(), m = c.mlpHidden();
        return new DoubleStreamBlock(
                new Modulation(w.linear(p + "img_mod.lin", h, true, 6 * h), h),
                new Modulation(w.linear(p + "txt_mod.lin", h, true, 6 * h), h),
                w.linear(p + "img_attn.qkv", h, c.qkvBias(), h, h, h),
                w.linear(p + "txt_attn.qkv", h, c.qkvBias(), h, h, h),
                QkNorm.load(w, p + "img_attn.norm.", c.headDim()),
                QkNorm.load(w, p + "txt_attn.norm.", c.headDim()),
                w.linear(p + "img_attn.proj", h, true, h),
                w.linear(p + "txt_attn.proj", h, true, h),
                w.linear(p + "img_mlp.0", h, true, m), w.linear(p + "img_mlp.2", m, true, h),
                w.linear(p + "txt_mlp.0", h, true, m), w.linear(p + "txt_mlp.2", m, true, h),
                h, c.heads());
    }

    /** Updates img [imgLen, hidden] and txt [txtLen, hidden] in place. */
    void forward(float[] img, int imgLen, float[] txt, int txtLen, float[] siluVec, Rope.Angles pe, Workspace ws) {
        Modulation.Out[] im = imgMod.apply(siluVec, true), tm = txtMod.apply(siluVec, true);
        int len = imgLen + txtLen;

        Ops.layerNorm(img, imgLen, hidden, im[0].onePlusScale(), im[0].shift(), EPS, ws.norm());
        imgQkv.forward(ws.norm(), imgLen, ws.q(), ws.k(), ws.v());
        imgNorm.apply(ws.q(), ws.k(), imgLen, heads);

        Ops.layerNorm(txt, txtLen, hidden, tm[0].onePlusScale(), tm[0].shift(), EPS, ws.norm());
        txtQkv.forward(ws.norm(), txtLen, ws.txtQ(), ws.txtK(), ws.txtV());
        txtNorm.apply(ws.txtQ(), ws.txtK(), txtLen, heads);
        FluxKernels.copyRows(ws.txtQ(), 0, txtLen, hidden, ws.q(), imgLen, hidden, 0);
        FluxKernels.copyRows(ws.txtK(), 0, txtLen, hidden, ws.k(), imgLen, hidden, 0);
        FluxKernels.copyRows(ws.txtV(), 0, txtLen, hidden, ws.v(), imgLen, hidden, 0);

        FluxKernels.attention(ws, len, hidden, heads, pe);

        imgProj.forward(ws.attn(), imgLen, ws.proj());
        FluxKernels.addGated(img, ws.proj(), im[0].gate(), imgLen, hidden);
        FluxKernels.copyRows(ws.attn(), imgLen, txtLen, hidden, ws.txtQ(), 0, hidden, 0);
        txtProj.forward(ws.txtQ(), txtLen, ws.proj());
        FluxKernels.addGated(txt, ws.proj(), tm[0].gate(), txtLen, hidden);

        mlp(img, imgLen, im[1], imgMlp0, imgMlp2, ws);
        mlp(txt, txtLen, tm[1], txtMlp0, txtMlp2, ws);
    }

    private void mlp(float[] x, int rows, Modulation.Out mod, Linear up, Linear down, Workspace ws) {
        Ops.layerNorm(x, rows, hidden, mod.onePlusScale(), mod.shift(), EPS, ws.norm());
        up.forward(ws.norm(), rows, new Epilogue[] {Epilogue.GELU_TANH}, ws.mlp());
        down.forward(ws.mlp(), rows, ws.proj());
        FluxKernels.addGated(x, ws.proj(), mod.gate(), rows, hidden);
    }
}
