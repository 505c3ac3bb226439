package fluxj.flux;

/**
 * The activation buffers of one forward pass, sized for its token counts and shared by all blocks in turn.
 * Attention arrays hold the joint sequence with the image tokens first and the text tokens after them.
 */
record Workspace(float[] norm, float[] q, float[] k, float[] v, float[] attn, float[] proj, float[] mlp, float[] cat,
                 float[] txtQ, float[] txtK, float[] txtV) {

    /** Whether this workspace has the sizes {@link #of} gives for these lengths (hidden and mlpHidden are the model's). */
    boolean fits(int imgLen, int txtLen, int hidden) {
        return q.length == (imgLen + txtLen) * hidden && txtQ.length == txtLen * hidden;
    }

    static Workspace of(int imgLen, int txtLen, int hidden, int mlpHidden) {
        int len = imgLen + txtLen, joint = len * hidden, txt = txtLen * hidden;
        return new Workspace(new float[joint], new float[joint], new float[joint], new float[joint], new float[joint],
                new float[joint], new float[len * mlpHidden], new float[len * (hidden + mlpHidden)],
                new float[txt], new float[txt], new float[txt]);
    }
}
