package fluxj.text;

import fluxj.io.Checkpoint;
import fluxj.tensor.Attention;
import fluxj.tensor.Epilogue;
import fluxj.tensor.Matmul;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Ops;
import fluxj.tensor.Tensor;

import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * The T5 v1.1 encoder (HF {@code T5EncoderModel}) FLUX conditions on: RMS-normed pre-norm blocks, unscaled
 * attention with a relative position bias shared by all blocks, gated-GELU feed-forward; all in f32. A DistillT5
 * checkpoint (recognised by its {@code final_projection} tensors) adds Linear, ReLU, Linear after the encoder.
 * The whole sequence is attended, padding included, as the reference calls it (no mask).
 */
public final class T5Encoder {
    private static final System.Logger LOG = System.getLogger(T5Encoder.class.getName());
    private final TextConfig.T5 config;
    private final Tensor shared;
    private final float[] relativeBias, finalNorm;
    private final List<Block> blocks;
    private final Tensor project0, project3;
    private final PromptCache cache = new PromptCache(256L << 20);

    private T5Encoder(TextConfig.T5 config, Tensor shared, Checkpoint enc, Tensor project0, Tensor project3) {
        this.config = config;
        this.shared = shared;
        this.relativeBias = enc.get("block.0.layer.0.SelfAttention.relative_attention_bias.weight").toFloats();
        this.blocks = IntStream.range(0, config.layers()).mapToObj(i -> new Block(enc, "block." + i + ".", config)).toList();
        this.finalNorm = enc.get("final_layer_norm.weight").expectShape(config.dModel()).toFloats();
        this.project0 = project0 == null ? null : project0.expectShape(config.outDim(), config.dModel());
        this.project3 = project3 == null ? null : project3.expectShape(config.outDim(), config.outDim());
    }

    /**
     * Loads an HF {@code T5EncoderModel} (single file such as {@code t5xxl_fp16.safetensors}, FP8 variants, or a
     * sharded diffusers {@code text_encoder_2} folder) or a DistillT5 in either of its key-name forms.
     * {@code config}: the HF config.json map (or the sidecar's t5_config), or null to infer from shapes.
     */
    public static T5Encoder load(Checkpoint ck, Map<String, Object> config) {
        // "" for T5EncoderModel and DistillT5ComfyUI names, "encoder." for DistillT5's HF class.
        String root = CheckpointKind.requirePrefix(ck, "encoder.block.0.layer.0.SelfAttention.q.weight", "a T5 text encoder");
        Checkpoint enc = ck.withPrefix(root + "encoder.");
        String sharedName = ck.has(root + "shared.weight") ? root + "shared.weight" : root + "encoder.embed_tokens.weight";
        if (!ck.has(sharedName)) {
            throw new ModelFormatException(ck.description(), "T5 encoder without a token embedding ('" + root + "shared.weight' or '"
                    + root + "encoder.embed_tokens.weight')");
        }
        Tensor shared = scaled(ck, sharedName);
        Tensor p0 = null, p3 = null;
        var projection = CheckpointKind.prefixOf(ck, "final_projection.0.weight");
        if (projection.isPresent()) {
            p0 = scaled(ck, projection.get() + "final_projection.0.weight");
            p3 = scaled(ck, projection.get() + "final_projection.3.weight");
        }
        TextConfig.T5 c = TextConfig.T5.resolve(enc, shared, p0, config);
        LOG.log(System.Logger.Level.DEBUG, "{0} from {1}: {2}", p0 == null ? "T5 encoder" : "DistillT5", ck.description(), c);
        return new T5Encoder(c, shared, enc, p0, p3);
    }

    /** Width of each output row: d_model, or the DistillT5 projection width. */
    public int outDim() { return config.outDim(); }

    public TextConfig.T5 config() { return config; }

    /** Hidden states [ids.length * outDim()] row-major for the ids the model sees (256 or 512 for FLUX). */
    public float[] encode(int[] ids) {
        if (ids.length == 0) throw new IllegalArgumentException("T5 needs at least one token id");
        return cache.get(ids, () -> forward(ids));
    }

    private float[] forward(int[] ids) {
        int n = ids.length, d = config.dModel();
        float[] h = Embedding.rows(shared, ids, n);
        float[] bias = RelativePositionBias.compute(relativeBias, config.buckets(), config.heads(), config.maxDistance(), n, n);
        Scratch s = Scratch.of(n, config);
        for (Block b : blocks) b.forward(h, n, bias, s);
        Ops.rmsNorm(h, n, d, finalNorm, config.eps(), h);
        if (project0 == null) return h;
        float[] mid = Matmul.matmul(h, n, d, project0, null);
        Ops.relu(mid, mid.length);
        return Matmul.matmul(mid, n, config.outDim(), project3, null);
    }

    /** A block's activation arrays, allocated once per forward and overwritten by every block in turn. */
    private record Scratch(float[] x, float[] q, float[] k, float[] v, float[] attn, float[] out, float[] gate, float[] up) {
        static Scratch of(int n, TextConfig.T5 c) {
            int d = c.dModel(), inner = c.inner(), ff = c.dFf();
            return new Scratch(new float[n * d], new float[n * inner], new float[n * inner], new float[n * inner], new float[n * inner],
                    new float[n * d], new float[n * ff], new float[n * ff]);
        }
    }

    /** Self-attention then gated feed-forward, each pre-RMS-normed and added to the residual stream. */
    private static final class Block {
        private final TextConfig.T5 c;
        private final Tensor q, k, v, o, wi0, wi1, wo;
        private final float[] attnNorm, ffNorm;

        Block(Checkpoint ck, String p, TextConfig.T5 c) {
            this.c = c;
            int d = c.dModel(), inner = c.inner();
            String a = p + "layer.0.SelfAttention.", f = p + "layer.1.DenseReluDense.";
            q = scaled(ck, a + "q.weight").expectShape(inner, d);
            k = scaled(ck, a + "k.weight").expectShape(inner, d);
            v = scaled(ck, a + "v.weight").expectShape(inner, d);
            o = scaled(ck, a + "o.weight").expectShape(d, inner);
            wi0 = scaled(ck, f + "wi_0.weight").expectShape(c.dFf(), d);
            wi1 = scaled(ck, f + "wi_1.weight").expectShape(c.dFf(), d);
            wo = scaled(ck, f + "wo.weight").expectShape(d, c.dFf());
            attnNorm = ck.get(p + "layer.0.layer_norm.weight").expectShape(d).toFloats();
            ffNorm = ck.get(p + "layer.1.layer_norm.weight").expectShape(d).toFloats();
        }

        void forward(float[] h, int n, float[] bias, Scratch s) {
            int d = c.dModel(), inner = c.inner(), ff = c.dFf();
            Ops.rmsNorm(h, n, d, attnNorm, c.eps(), s.x());
            // One input, several weights: a backend that prepares x (oneDNN rounds it to bf16) does so once.
            Matmul.matmul(s.x(), n, d, new Tensor[] {q, k, v}, new float[3][], new float[][] {s.q(), s.k(), s.v()});
            // Unscaled: T5 folds 1/sqrt(d_kv) into the initialisation of q.
            Attention.attention(s.q(), s.k(), s.v(), n, n, c.heads(), c.dKv(), 1f, bias, false, s.attn());
            Matmul.matmul(s.attn(), n, inner, o, null, s.out());
            Ops.add(h, s.out(), n * d);
            Ops.rmsNorm(h, n, d, ffNorm, c.eps(), s.x());
            // The activation inside the gate's product where a kernel can apply it there (GELU on oneDNN).
            Epilogue inside = c.act().epilogue();
            Matmul.matmul(s.x(), n, d, new Tensor[] {wi0, wi1}, new float[2][], new Epilogue[] {inside, Epilogue.NONE},
                    new float[][] {s.gate(), s.up()});
            if (inside == Epilogue.NONE) c.act().apply(s.gate(), n * ff);
            Ops.mul(s.gate(), s.up(), n * ff);
            Matmul.matmul(s.gate(), n, ff, wo, null, s.out());
            Ops.add(h, s.out(), n * d);
        }
    }

    /** A weight with its ComfyUI "scaled fp8" multiplier ({@code <layer>.scale_weight}, a scalar) attached when present. */
    private static Tensor scaled(Checkpoint ck, String name) {
        Tensor t = ck.get(name);
        String scale = name.substring(0, name.length() - "weight".length()) + "scale_weight";
        if (!ck.has(scale)) return t;
        Tensor s = ck.get(scale);
        if (s.numel() != 1) throw new ModelFormatException(ck.description(), "'" + s.name() + "' " + s + " is not a scalar");
        return t.withScale(s.get(0));
    }
}
