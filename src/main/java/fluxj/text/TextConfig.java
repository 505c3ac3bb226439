package fluxj.text;

import fluxj.io.Checkpoint;
import fluxj.tensor.Epilogue;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Ops;
import fluxj.tensor.Tensor;

import java.util.Map;

/**
 * Sizes and constants of the text encoders. Every size is read from tensor shapes; a configuration map (an HF
 * {@code config.json}, or the {@code clip_config} / {@code t5_config} object of a sidecar), when given, supplies
 * what shapes cannot say (epsilons, activation, head count) and must agree with the shapes.
 */
public sealed interface TextConfig permits TextConfig.Clip, TextConfig.T5 {

    /** CLIP text transformer. {@code eosTokenId == 2} is the legacy HF rule: pool at the largest id. */
    record Clip(int width, int heads, int layers, int mlp, int vocab, int positions, float eps,
                Activation act, int eosTokenId) implements TextConfig {

        /** FLUX.1's CLIP-L constants: head dim 64, quick GELU, eps 1e-5, legacy EOS pooling. */
        static Clip resolve(Checkpoint ck, Map<String, Object> config) {
            Map<String, Object> c = section(section(config, "clip_config"), "text_config");
            Tensor tok = ck.get("embeddings.token_embedding.weight");
            Tensor pos = ck.get("embeddings.position_embedding.weight");
            int width = tok.dim(1);
            int layers = ck.countIndexed("encoder.layers.");
            if (layers == 0) throw new ModelFormatException(ck.description(), "CLIP text encoder without 'encoder.layers.N' tensors");
            int mlp = ck.get("encoder.layers.0.mlp.fc1.weight").rows();
            agree(ck, c, "hidden_size", width, tok);
            agree(ck, c, "vocab_size", tok.rows(), tok);
            agree(ck, c, "max_position_embeddings", pos.rows(), pos);
            agree(ck, c, "num_hidden_layers", layers, null);
            agree(ck, c, "intermediate_size", mlp, ck.get("encoder.layers.0.mlp.fc1.weight"));
            pos.expectShape(pos.rows(), width);
            int heads = integer(ck, c, "num_attention_heads", width / 64);
            if (heads <= 0 || width % heads != 0) {
                throw new ModelFormatException(ck.description(), "width " + width + " is not divisible into " + heads + " attention heads");
            }
            return new Clip(width, heads, layers, mlp, tok.rows(), pos.rows(), (float) real(ck, c, "layer_norm_eps", 1e-5),
                    Activation.of(ck, string(ck, c, "hidden_act", "quick_gelu")), integer(ck, c, "eos_token_id", 2));
        }

        public int headDim() { return width / heads; }
    }

    /** T5 v1.1 encoder; {@code outDim == dModel} unless a DistillT5 projection follows it. */
    record T5(int dModel, int heads, int dKv, int dFf, int layers, int vocab, int buckets, int maxDistance,
              float eps, Activation act, int outDim) implements TextConfig {

        /** {@code enc} views the encoder ("block.N...", "final_layer_norm"); {@code shared} is the embedding. */
        static T5 resolve(Checkpoint enc, Tensor shared, Tensor projection, Map<String, Object> config) {
            Map<String, Object> c = section(config, "t5_config");
            int dModel = shared.dim(1);
            int layers = enc.countIndexed("block.");
            Tensor rel = enc.get("block.0.layer.0.SelfAttention.relative_attention_bias.weight");
            int buckets = rel.rows(), heads = rel.cols();
            Tensor q = enc.get("block.0.layer.0.SelfAttention.q.weight");
            if (q.cols() != dModel || q.rows() % heads != 0) {
                throw new ModelFormatException(enc.description(), "tensor '" + q.name() + "' " + q
                        + " does not fit d_model " + dModel + " and " + heads + " heads");
            }
            if (!enc.has("block.0.layer.1.DenseReluDense.wi_0.weight")) {
                throw new ModelFormatException(enc.description(), "no gated feed-forward 'DenseReluDense.wi_0': only T5 v1.1 encoders are supported");
            }
            int dFf = enc.get("block.0.layer.1.DenseReluDense.wi_0.weight").rows();
            agree(enc, c, "d_model", dModel, shared);
            agree(enc, c, "vocab_size", shared.rows(), shared);
            agree(enc, c, "num_layers", layers, null);
            agree(enc, c, "num_heads", heads, rel);
            agree(enc, c, "d_kv", q.rows() / heads, q);
            agree(enc, c, "d_ff", dFf, enc.get("block.0.layer.1.DenseReluDense.wi_0.weight"));
            agree(enc, c, "relative_attention_num_buckets", buckets, rel);
            if (projection != null) agree(enc, c, "out_dim", projection.rows(), projection);
            // Older configs only name "feed_forward_proj" ("gated-gelu" means gelu_new, as HF's T5Config maps it).
            String proj = string(enc, c, "feed_forward_proj", "gated-gelu");
            String act = string(enc, c, "dense_act_fn", proj.equals("gated-gelu") ? "gelu_new" : proj.replace("gated-", ""));
            return new T5(dModel, heads, q.rows() / heads, dFf, layers, shared.rows(), buckets,
                    integer(enc, c, "relative_attention_max_distance", 128),
                    (float) real(enc, c, "layer_norm_epsilon", 1e-6), Activation.of(enc, act),
                    projection == null ? dModel : projection.rows());
        }

        public int inner() { return heads * dKv; }
    }

    /** The feed-forward activations HF configs name. */
    enum Activation {
        QUICK_GELU, GELU, GELU_TANH, RELU;

        /** The matmul epilogue that computes this activation inside the product, or NONE where there is none. */
        Epilogue epilogue() {
            return this == GELU_TANH ? Epilogue.GELU_TANH : Epilogue.NONE;
        }

        void apply(float[] x, int n) {
            switch (this) {
                case QUICK_GELU -> Ops.quickGelu(x, n);
                case GELU -> Ops.geluErf(x, n);
                case GELU_TANH -> Ops.geluTanh(x, n);
                case RELU -> Ops.relu(x, n);
            }
        }

        static Activation of(Checkpoint ck, String name) {
            return switch (name) {
                case "quick_gelu" -> QUICK_GELU;
                case "gelu" -> GELU;
                case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> GELU_TANH;
                case "relu" -> RELU;
                default -> throw new ModelFormatException(ck.description(), "unsupported activation '" + name + "' in the config");
            };
        }
    }

    /** A nested section when the map holds one (a whole sidecar, or a CLIPConfig with its text_config), else the map. */
    private static Map<String, Object> section(Map<String, Object> config, String key) {
        if (config != null && config.get(key) instanceof Map<?, ?> m) {
            @SuppressWarnings("unchecked") Map<String, Object> sub = (Map<String, Object>) m;
            return sub;
        }
        return config;
    }

    /** A config value, when present, must equal what the tensors say. */
    private static void agree(Checkpoint ck, Map<String, Object> c, String key, int fromShapes, Tensor evidence) {
        if (c == null || !c.containsKey(key)) return;
        int v = integer(ck, c, key, fromShapes);
        if (v != fromShapes) {
            throw new ModelFormatException(ck.description(), "config " + key + " = " + v + " but the weights have "
                    + fromShapes + (evidence == null ? "" : " (tensor " + evidence + ")"));
        }
    }

    private static int integer(Checkpoint ck, Map<String, Object> c, String key, int fallback) {
        Object v = c == null ? null : c.get(key);
        if (v == null) return fallback;
        if (v instanceof Long || v instanceof Integer) return ((Number) v).intValue();
        throw new ModelFormatException(ck.description(), "config " + key + " is not an integer: " + v);
    }

    private static double real(Checkpoint ck, Map<String, Object> c, String key, double fallback) {
        Object v = c == null ? null : c.get(key);
        if (v == null) return fallback;
        if (v instanceof Number n) return n.doubleValue();
        throw new ModelFormatException(ck.description(), "config " + key + " is not a number: " + v);
    }

    private static String string(Checkpoint ck, Map<String, Object> c, String key, String fallback) {
        Object v = c == null ? null : c.get(key);
        if (v == null) return fallback;
        if (v instanceof String s) return s;
        throw new ModelFormatException(ck.description(), "config " + key + " is not a string: " + v);
    }
}
