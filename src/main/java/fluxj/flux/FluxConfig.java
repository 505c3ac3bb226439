package fluxj.flux;

import fluxj.tensor.ModelFormatException;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The sizes of a FLUX transformer (BFL's FluxParams). {@link #infer} reads them from the tensors; a config map
 * (a diffusers config.json or a {@code flux_params} sidecar) supplies what the tensors cannot say (rope axes for
 * head dims other than FLUX.1's 128, theta) and is checked against what they do say.
 */
public record FluxConfig(int hidden, int heads, int depth, int depthSingle, int mlpHidden, int inChannels, int outChannels,
                         int contextDim, int vecDim, boolean guidanceEmbed, boolean qkvBias, int[] axesDim, int theta) {

    /** FLUX.1's constants: rope theta, and the axes for its head dim 128. */
    static final int THETA = 10000;
    static final int FLUX1_HEAD_DIM = 128;
    static final int[] FLUX1_AXES = {16, 56, 56};

    public FluxConfig {
        axesDim = axesDim.clone();
    }

    public int headDim() { return hidden / heads; }

    @Override
    public String toString() {
        return "hidden " + hidden + " (" + heads + " heads x " + headDim() + "), " + depth + " double + " + depthSingle
                + " single blocks, mlp " + mlpHidden + ", in/out " + inChannels + "/" + outChannels + ", context " + contextDim
                + ", vec " + vecDim + (guidanceEmbed ? ", guidance embed" : "") + (qkvBias ? ", qkv bias" : "")
                + ", rope axes " + Arrays.toString(axesDim) + " theta " + theta;
    }

    @Override
    public int[] axesDim() { return axesDim.clone(); }

    static FluxConfig infer(Weights w, Map<String, Object> config) {
        String file = w.checkpoint().description();
        FluxLayout layout = w.layout();
        // A Canny/Depth control LoRA widens a base model's img_in: the model takes its widened inputs, a config
        // describes the stored ones.
        int storedIn = w.cols("img_in"), inCh = w.inputs("img_in"), hidden = w.rows("img_in");
        int depth = w.checkpoint().countIndexed(layout.doubleBlocks());
        int depthSingle = w.checkpoint().countIndexed(layout.singleBlocks());
        if (depth + depthSingle == 0) throw new ModelFormatException(file, "no double or single transformer blocks");
        String qNorm = depth > 0 ? "double_blocks.0.img_attn.norm.query_norm.scale" : "single_blocks.0.norm.query_norm.scale";
        int headDim = w.length(qNorm);
        if (headDim <= 0) throw new ModelFormatException(file, "missing tensor '" + layout.vector(qNorm) + "' (the q norm, whose length is the head dim)");
        if (hidden % headDim != 0) throw new ModelFormatException(file, "hidden size " + hidden + " is not a multiple of the head dim " + headDim);
        int mlp = depth > 0 ? w.rows("double_blocks.0.img_mlp.0") : w.rows("single_blocks.0.linear1") - 3 * hidden;
        int out = w.rows("final_layer.linear");
        int context = w.cols("txt_in"), vec = w.cols("vector_in.in_layer");
        if (mlp <= 0 || out <= 0 || context <= 0 || vec <= 0) {
            throw new ModelFormatException(file, "missing one of the MLP, final_layer.linear, txt_in or vector_in weights (" + layout.name() + " layout)");
        }
        boolean guidance = w.has("guidance_in.in_layer");
        boolean qkvBias = depth > 0 && w.hasBias("double_blocks.0.img_attn.qkv");
        int[] axes = headDim == FLUX1_HEAD_DIM ? FLUX1_AXES : null;
        int theta = THETA;

        Map<String, Object> c = config;
        if (c != null && c.get("flux_params") instanceof Map<?, ?> nested) c = cast(nested);
        if (c != null) {
            Check k = new Check(file, c);
            if (c.containsKey("hidden_size") || c.containsKey("depth")) {
                k.equal("hidden_size", hidden);
                k.equal("num_heads", hidden / headDim);
                k.equal("depth", depth);
                k.equal("depth_single_blocks", depthSingle);
                k.equal("in_channels", storedIn);
                k.equal("out_channels", out);
                k.equal("context_in_dim", context);
                k.equal("vec_in_dim", vec);
                k.equal("guidance_embed", guidance);
                k.equal("qkv_bias", qkvBias);
                if (c.containsKey("mlp_ratio") && (int) (hidden * k.real("mlp_ratio")) != mlp) {
                    throw k.mismatch("mlp_ratio", c.get("mlp_ratio"), "an MLP of " + mlp + " for hidden " + hidden);
                }
                axes = k.ints("axes_dim", axes);
                theta = k.integer("theta", theta);
            } else {
                k.equal("num_layers", depth);
                k.equal("num_single_layers", depthSingle);
                k.equal("attention_head_dim", headDim);
                k.equal("num_attention_heads", hidden / headDim);
                k.equal("joint_attention_dim", context);
                k.equal("pooled_projection_dim", vec);
                k.equal("in_channels", storedIn);
                k.equal("out_channels", out);
                k.equal("guidance_embeds", guidance);
                k.equal("patch_size", 1);
                axes = k.ints("axes_dims_rope", axes);
            }
        }
        if (axes == null) {
            throw new ModelFormatException(file, "head dim " + headDim + " is not FLUX.1's 128, so the rope axes are unknown: pass a config "
                    + "(--config with flux_params.axes_dim, or the diffusers config.json with axes_dims_rope)");
        }
        if (Arrays.stream(axes).sum() != headDim || Arrays.stream(axes).anyMatch(a -> a <= 0 || a % 2 != 0)) {
            throw new ModelFormatException(file, "rope axes " + Arrays.toString(axes) + " must be positive, even and sum to the head dim " + headDim);
        }
        // Image-conditioned models (Fill, Canny/Depth) read the latent plus conditioning channels and predict the latent only.
        if (out > inCh) throw new ModelFormatException(file, "final_layer gives " + out + " channels but img_in takes only " + inCh + ": not supported");
        return new FluxConfig(hidden, hidden / headDim, depth, depthSingle, mlp, inCh, out, context, vec, guidance, qkvBias, axes, theta);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> cast(Map<?, ?> m) { return (Map<String, Object>) m; }

    /** Compares config entries with the sizes read from the tensors; a value of the wrong type is named as such. */
    private record Check(String file, Map<String, Object> c) {
        void equal(String key, int actual) {
            if (c.containsKey(key) && integer(key, actual) != actual) throw mismatch(key, c.get(key), String.valueOf(actual));
        }

        void equal(String key, boolean actual) {
            Object v = c.get(key);
            if (v == null) return;
            if (!(v instanceof Boolean b)) throw new ModelFormatException(file, "config " + key + " = " + v + " is not true or false");
            if (b != actual) throw mismatch(key, v, String.valueOf(actual));
        }

        int integer(String key, int fallback) {
            Object v = c.get(key);
            if (v == null) return fallback;
            if (!whole(v)) throw new ModelFormatException(file, "config " + key + " = " + v + " is not an integer");
            return ((Number) v).intValue();
        }

        double real(String key) {
            if (!(c.get(key) instanceof Number n)) throw new ModelFormatException(file, "config " + key + " = " + c.get(key) + " is not a number");
            return n.doubleValue();
        }

        int[] ints(String key, int[] fallback) {
            Object v = c.get(key);
            if (v == null) return fallback;
            if (!(v instanceof List<?> l) || !l.stream().allMatch(Check::whole)) {
                throw new ModelFormatException(file, "config " + key + " = " + v + " is not a list of integers");
            }
            return l.stream().mapToInt(e -> ((Number) e).intValue()).toArray();
        }

        /** An int-sized integer, as a Long or as a real without a fraction (writers that store 3072.0). */
        private static boolean whole(Object v) {
            return v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue()) && Math.abs(n.doubleValue()) <= Integer.MAX_VALUE;
        }

        ModelFormatException mismatch(String key, Object configured, String actual) {
            return new ModelFormatException(file, "config says " + key + " = " + configured + " but the tensors give " + actual);
        }
    }
}
