package fluxj.flux;

import fluxj.io.Checkpoint;
import fluxj.tensor.ModelFormatException;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where the transformer's weights live in a checkpoint. The model names every layer by its BFL module name
 * ({@code double_blocks.3.img_attn.qkv}); a layout maps that name to stored tensors. Diffusers stores some BFL
 * layers as several tensors (q, k, v apart) and the final adaLN with its two halves swapped, so a layer maps to
 * a list of segments: row chunks of stored matrices, concatenated in order.
 */
sealed interface FluxLayout {

    /** Rows [chunk/chunks, (chunk+1)/chunks) of the matrix {@code module + ".weight"} (and of its bias). */
    record Segment(String module, int chunk, int chunks) {
        static Segment whole(String module) { return new Segment(module, 0, 1); }
    }

    String name();

    /** The stored segments of BFL linear layer {@code module}, in output order. */
    List<Segment> linear(String module);

    /** The stored name of the BFL vector tensor {@code name} (RMSNorm scales). */
    String vector(String name);

    /** Prefix of the numbered double-stream blocks ({@code prefix + N + "."}). */
    String doubleBlocks();

    /** Prefix of the numbered single-stream blocks. */
    String singleBlocks();

    /** Black Forest Labs' own names (flux1-dev.safetensors, ComfyUI files after their prefix is stripped). */
    record Bfl() implements FluxLayout {
        public String name() { return "BFL"; }
        public List<Segment> linear(String module) { return List.of(Segment.whole(module)); }
        public String vector(String name) { return name; }
        public String doubleBlocks() { return "double_blocks."; }
        public String singleBlocks() { return "single_blocks."; }
    }

    /** diffusers' FluxTransformer2DModel names (the transformer/ folder of a diffusers repo). */
    record Diffusers() implements FluxLayout {
        private static final Pattern DOUBLE = Pattern.compile("double_blocks\\.(\\d+)\\.(.+)");
        private static final Pattern SINGLE = Pattern.compile("single_blocks\\.(\\d+)\\.(.+)");

        public String name() { return "diffusers"; }
        public String doubleBlocks() { return "transformer_blocks."; }
        public String singleBlocks() { return "single_transformer_blocks."; }

        public List<Segment> linear(String module) {
            Matcher m;
            if ((m = DOUBLE.matcher(module)).matches()) {
                String p = "transformer_blocks." + m.group(1) + ".";
                return switch (m.group(2)) {
                    case "img_mod.lin" -> whole(p + "norm1.linear");
                    case "txt_mod.lin" -> whole(p + "norm1_context.linear");
                    case "img_attn.qkv" -> whole(p + "attn.to_q", p + "attn.to_k", p + "attn.to_v");
                    case "txt_attn.qkv" -> whole(p + "attn.add_q_proj", p + "attn.add_k_proj", p + "attn.add_v_proj");
                    case "img_attn.proj" -> whole(p + "attn.to_out.0");
                    case "txt_attn.proj" -> whole(p + "attn.to_add_out");
                    case "img_mlp.0" -> whole(p + "ff.net.0.proj");
                    case "img_mlp.2" -> whole(p + "ff.net.2");
                    case "txt_mlp.0" -> whole(p + "ff_context.net.0.proj");
                    case "txt_mlp.2" -> whole(p + "ff_context.net.2");
                    default -> throw unknown(module);
                };
            }
            if ((m = SINGLE.matcher(module)).matches()) {
                String p = "single_transformer_blocks." + m.group(1) + ".";
                return switch (m.group(2)) {
                    case "modulation.lin" -> whole(p + "norm.linear");
                    case "linear1" -> whole(p + "attn.to_q", p + "attn.to_k", p + "attn.to_v", p + "proj_mlp");
                    case "linear2" -> whole(p + "proj_out");
                    default -> throw unknown(module);
                };
            }
            return switch (module) {
                case "img_in" -> whole("x_embedder");
                case "txt_in" -> whole("context_embedder");
                case "time_in.in_layer" -> whole("time_text_embed.timestep_embedder.linear_1");
                case "time_in.out_layer" -> whole("time_text_embed.timestep_embedder.linear_2");
                case "vector_in.in_layer" -> whole("time_text_embed.text_embedder.linear_1");
                case "vector_in.out_layer" -> whole("time_text_embed.text_embedder.linear_2");
                case "guidance_in.in_layer" -> whole("time_text_embed.guidance_embedder.linear_1");
                case "guidance_in.out_layer" -> whole("time_text_embed.guidance_embedder.linear_2");
                case "final_layer.linear" -> whole("proj_out");
                // AdaLayerNormContinuous chunks (scale, shift); BFL's LastLayer chunks (shift, scale).
                case "final_layer.adaLN_modulation.1" ->
                        List.of(new Segment("norm_out.linear", 1, 2), new Segment("norm_out.linear", 0, 2));
                default -> throw unknown(module);
            };
        }

        public String vector(String name) {
            Matcher m;
            if ((m = DOUBLE.matcher(name)).matches()) {
                String p = "transformer_blocks." + m.group(1) + ".attn.";
                return switch (m.group(2)) {
                    case "img_attn.norm.query_norm.scale" -> p + "norm_q.weight";
                    case "img_attn.norm.key_norm.scale" -> p + "norm_k.weight";
                    case "txt_attn.norm.query_norm.scale" -> p + "norm_added_q.weight";
                    case "txt_attn.norm.key_norm.scale" -> p + "norm_added_k.weight";
                    default -> throw unknown(name);
                };
            }
            if ((m = SINGLE.matcher(name)).matches()) {
                String p = "single_transformer_blocks." + m.group(1) + ".attn.";
                return switch (m.group(2)) {
                    case "norm.query_norm.scale" -> p + "norm_q.weight";
                    case "norm.key_norm.scale" -> p + "norm_k.weight";
                    default -> throw unknown(name);
                };
            }
            throw unknown(name);
        }

        private static List<Segment> whole(String... modules) {
            return java.util.Arrays.stream(modules).map(Segment::whole).toList();
        }

        private static IllegalArgumentException unknown(String module) {
            return new IllegalArgumentException("no diffusers name for FLUX module " + module);
        }
    }

    /** The layout of {@code ck} (prefix already stripped), or an error saying what the checkpoint looks like. */
    static FluxLayout detect(Checkpoint ck) {
        if (ck.has("img_in.weight")) return new Bfl();
        if (ck.has("x_embedder.weight")) return new Diffusers();
        throw new ModelFormatException(ck.description(), "not a FLUX transformer (no img_in.weight or x_embedder.weight): "
                + lookalike(ck));
    }

    private static String lookalike(Checkpoint ck) {
        var names = ck.names();
        if (names.isEmpty()) return "it holds no tensors";
        if (any(ck, "joint_blocks.") || any(ck, "model.diffusion_model.joint_blocks.")) return "it looks like a Stable Diffusion 3 (MMDiT) model";
        if (any(ck, "input_blocks.") || any(ck, "model.diffusion_model.input_blocks.") || any(ck, "down_blocks."))
            return "it looks like a Stable Diffusion UNet";
        if (any(ck, "encoder.down.") || any(ck, "decoder.up.") || any(ck, "decoder.up_blocks.")) return "it looks like a VAE (autoencoder)";
        if (any(ck, "text_model.") || any(ck, "token_embedding.")) return "it looks like a CLIP text encoder";
        if (any(ck, "encoder.block.") || ck.has("shared.weight")) return "it looks like a T5 text encoder";
        if (names.stream().anyMatch(n -> n.contains("lora_"))) return "it looks like a LoRA";
        return "its first tensors are " + names.stream().limit(3).toList();
    }

    private static boolean any(Checkpoint ck, String prefix) {
        return ck.tensors().keySet().stream().anyMatch(n -> n.startsWith(prefix));
    }
}
