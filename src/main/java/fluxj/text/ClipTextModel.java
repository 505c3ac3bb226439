package fluxj.text;

import fluxj.io.Checkpoint;
import fluxj.tensor.Attention;
import fluxj.tensor.Matmul;
import fluxj.tensor.Ops;
import fluxj.tensor.Tensor;

import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * The CLIP text transformer (HF {@code CLIPTextModel}) as FLUX uses it: only the pooled output, the final
 * layer-normed hidden state at the end-of-text token. Pre-LN layers with causal self-attention.
 */
public final class ClipTextModel {
    private static final System.Logger LOG = System.getLogger(ClipTextModel.class.getName());
    private final TextConfig.Clip config;
    private final Tensor tokenEmbedding, positionEmbedding;
    private final List<Layer> layers;
    private final float[] finalNormWeight, finalNormBias;
    private final PromptCache cache = new PromptCache(1L << 20);

    private ClipTextModel(TextConfig.Clip config, Checkpoint ck) {
        this.config = config;
        this.tokenEmbedding = ck.get("embeddings.token_embedding.weight");
        this.positionEmbedding = ck.get("embeddings.position_embedding.weight");
        this.layers = IntStream.range(0, config.layers()).mapToObj(i -> new Layer(ck, "encoder.layers." + i + ".", config)).toList();
        this.finalNormWeight = ck.get("final_layer_norm.weight").expectShape(config.width()).toFloats();
        this.finalNormBias = ck.get("final_layer_norm.bias").expectShape(config.width()).toFloats();
    }

    /**
     * Loads from ComfyUI / BFL single files ({@code clip_l.safetensors}, with or without the {@code text_model.}
     * prefix) or a diffusers {@code text_encoder} folder. {@code config}: its HF config.json map, or null.
     */
    public static ClipTextModel load(Checkpoint ck, Map<String, Object> config) {
        String prefix = CheckpointKind.requirePrefix(ck, "embeddings.token_embedding.weight", "a CLIP text encoder");
        Checkpoint model = ck.withPrefix(prefix);
        TextConfig.Clip c = TextConfig.Clip.resolve(model, config);
        LOG.log(System.Logger.Level.DEBUG, "CLIP text encoder from {0}: {1}", ck.description(), c);
        return new ClipTextModel(c, model);
    }

    public int width() { return config.width(); }

    public TextConfig.Clip config() { return config; }

    /** The pooled output [width] for the token ids the model sees (77 for FLUX). */
    public float[] pooled(int[] ids) {
        if (ids.length == 0 || ids.length > config.positions()) {
            throw new IllegalArgumentException("CLIP takes 1 to " + config.positions() + " token ids, got " + ids.length);
        }
        return cache.get(ids, () -> forward(ids));
    }

    private float[] forward(int[] ids) {
        int eos = poolingPosition(ids);
        // Causal attention: positions after the pooled one cannot change it, so they are not computed.
        int n = eos + 1, w = config.width();
        float[] h = Embedding.rows(tokenEmbedding, ids, n);
        Ops.add(h, Embedding.rows(positionEmbedding, IntStream.range(0, n).toArray(), n), n * w);
        for (Layer layer : layers) layer.forward(h, n);
        float[] last = new float[w];
        System.arraycopy(h, eos * w, last, 0, w);
        Ops.layerNorm(last, 1, w, finalNormWeight, finalNormBias, config.eps(), last);
        return last;
    }

    /** HF's rule: with the legacy eos_token_id 2 the largest id (49407 = EOS in CLIP's vocabulary), else the first EOS. */
    private int poolingPosition(int[] ids) {
        int best = 0;
        if (config.eosTokenId() == 2) {
            for (int i = 1; i < ids.length; i++) if (ids[i] > ids[best]) best = i;
            return best;
        }
        for (int i = 0; i < ids.length; i++) if (ids[i] == config.eosTokenId()) return i;
        return best;
    }

    /** One pre-LN encoder layer: x + attn(ln1 x), then x + mlp(ln2 x). */
    private static final class Layer {
        private final TextConfig.Clip c;
        private final Tensor q, k, v, out, fc1, fc2;
        private final float[] qb, kb, vb, outb, fc1b, fc2b, ln1w, ln1b, ln2w, ln2b;

        Layer(Checkpoint ck, String p, TextConfig.Clip c) {
            this.c = c;
            int w = c.width();
            q = ck.get(p + "self_attn.q_proj.weight").expectShape(w, w);
            k = ck.get(p + "self_attn.k_proj.weight").expectShape(w, w);
            v = ck.get(p + "self_attn.v_proj.weight").expectShape(w, w);
            out = ck.get(p + "self_attn.out_proj.weight").expectShape(w, w);
            fc1 = ck.get(p + "mlp.fc1.weight").expectShape(c.mlp(), w);
            fc2 = ck.get(p + "mlp.fc2.weight").expectShape(w, c.mlp());
            qb = vector(ck, p + "self_attn.q_proj.bias", w);
            kb = vector(ck, p + "self_attn.k_proj.bias", w);
            vb = vector(ck, p + "self_attn.v_proj.bias", w);
            outb = vector(ck, p + "self_attn.out_proj.bias", w);
            fc1b = vector(ck, p + "mlp.fc1.bias", c.mlp());
            fc2b = vector(ck, p + "mlp.fc2.bias", w);
            ln1w = vector(ck, p + "layer_norm1.weight", w);
            ln1b = vector(ck, p + "layer_norm1.bias", w);
            ln2w = vector(ck, p + "layer_norm2.weight", w);
            ln2b = vector(ck, p + "layer_norm2.bias", w);
        }

        void forward(float[] h, int n) {
            int w = c.width();
            float[] x = new float[n * w];
            Ops.layerNorm(h, n, w, ln1w, ln1b, c.eps(), x);
            float[] attn = new float[n * w];
            Attention.attention(Matmul.matmul(x, n, w, q, qb), Matmul.matmul(x, n, w, k, kb), Matmul.matmul(x, n, w, v, vb),
                    n, n, c.heads(), c.headDim(), (float) (1 / Math.sqrt(c.headDim())), null, true, attn);
            Ops.add(h, Matmul.matmul(attn, n, w, out, outb), n * w);
            Ops.layerNorm(h, n, w, ln2w, ln2b, c.eps(), x);
            float[] mid = Matmul.matmul(x, n, w, fc1, fc1b);
            c.act().apply(mid, n * c.mlp());
            Ops.add(h, Matmul.matmul(mid, n, c.mlp(), fc2, fc2b), n * w);
        }

        private static float[] vector(Checkpoint ck, String name, int size) {
            return ck.get(name).expectShape(size).toFloats();
        }
    }
}
