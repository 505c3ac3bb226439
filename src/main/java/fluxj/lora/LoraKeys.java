package fluxj.lora;

import fluxj.flux.FluxTransformer;

import java.util.HashMap;
import java.util.Map;

/**
 * Every module name a LoRA file may use for a given model, mapped to the weight it patches. Built from the
 * model's own layers (as ComfyUI does), so a name matches only a layer this model has: kohya / sd-scripts and
 * LyCORIS-with-kohya-names ({@code lora_unet_} + BFL path with '_'), ComfyUI-saved ({@code diffusion_model.} +
 * BFL path) and bare BFL paths (BFL's control LoRAs), diffusers / PEFT ({@code transformer.} + diffusers path,
 * with q/k/v and proj_mlp as row slices of the fused BFL weights), OneTrainer ({@code lora_transformer_}),
 * LyCORIS from SimpleTuner ({@code lycoris_}), XLabs ({@code double_blocks.N.processor.qkv_lora1} ...), and
 * CLIP-L text-encoder names (kohya {@code lora_te1_} / {@code lora_te_}, diffusers {@code text_encoder.}).
 */
final class LoraKeys {
    private final Map<String, Target> map = new HashMap<>();

    /**
     * @param linears the transformer's linear layers by BFL name
     * @param clip    CLIP-L's linear layers by HF name without {@code text_model.} ({@code encoder.layers.0.mlp.fc1})
     */
    LoraKeys(Map<String, FluxTransformer.Shape> linears, Map<String, FluxTransformer.Shape> clip) {
        for (String m : linears.keySet()) {
            String u = m.replace('.', '_');
            put("lora_unet_" + u, Target.whole(Target.Component.TRANSFORMER, m, "kohya"));
            put("diffusion_model." + m, Target.whole(Target.Component.TRANSFORMER, m, "ComfyUI"));
            put(m, Target.whole(Target.Component.TRANSFORMER, m, "BFL"));
        }
        if (linears.containsKey("img_in")) diffusers(linears);
        xlabs(linears);
        for (String module : clip.keySet()) {
            String kohya = "text_model_" + module.replace('.', '_');
            put("lora_te1_" + kohya, Target.whole(Target.Component.CLIP, module, "kohya CLIP-L"));
            put("lora_te_" + kohya, Target.whole(Target.Component.CLIP, module, "kohya CLIP-L"));
            put("text_encoder.text_model." + module, Target.whole(Target.Component.CLIP, module, "diffusers CLIP-L"));
        }
    }

    /** The target of module name {@code name}, or null when it names nothing in this model. */
    Target find(String name) { return map.get(name); }

    private void put(String name, Target t) { map.put(name, t); }

    /** diffusers module names, each under the three prefixes trainers save them with. */
    private void diffusers(Map<String, FluxTransformer.Shape> linears) {
        int h = linears.get("img_in").out();
        Map<String, Target> d = new HashMap<>();
        for (int i = 0; linears.containsKey("double_blocks." + i + ".img_attn.qkv"); i++) {
            String p = "transformer_blocks." + i + ".", b = "double_blocks." + i + ".";
            slice(d, p + "attn.to_q", b + "img_attn.qkv", 0, h);
            slice(d, p + "attn.to_k", b + "img_attn.qkv", h, h);
            slice(d, p + "attn.to_v", b + "img_attn.qkv", 2 * h, h);
            slice(d, p + "attn.add_q_proj", b + "txt_attn.qkv", 0, h);
            slice(d, p + "attn.add_k_proj", b + "txt_attn.qkv", h, h);
            slice(d, p + "attn.add_v_proj", b + "txt_attn.qkv", 2 * h, h);
            whole(d, p + "attn.to_out.0", b + "img_attn.proj");
            whole(d, p + "attn.to_add_out", b + "txt_attn.proj");
            whole(d, p + "ff.net.0.proj", b + "img_mlp.0");
            whole(d, p + "ff.net.2", b + "img_mlp.2");
            whole(d, p + "ff_context.net.0.proj", b + "txt_mlp.0");
            whole(d, p + "ff_context.net.2", b + "txt_mlp.2");
            whole(d, p + "norm1.linear", b + "img_mod.lin");
            whole(d, p + "norm1_context.linear", b + "txt_mod.lin");
        }
        for (int j = 0; linears.containsKey("single_blocks." + j + ".linear1"); j++) {
            String p = "single_transformer_blocks." + j + ".", b = "single_blocks." + j + ".";
            int mlp = linears.get(b + "linear1").out() - 3 * h;
            slice(d, p + "attn.to_q", b + "linear1", 0, h);
            slice(d, p + "attn.to_k", b + "linear1", h, h);
            slice(d, p + "attn.to_v", b + "linear1", 2 * h, h);
            slice(d, p + "proj_mlp", b + "linear1", 3 * h, mlp);
            whole(d, p + "proj_out", b + "linear2");
            whole(d, p + "norm.linear", b + "modulation.lin");
        }
        whole(d, "x_embedder", "img_in");
        whole(d, "context_embedder", "txt_in");
        whole(d, "proj_out", "final_layer.linear");
        whole(d, "time_text_embed.timestep_embedder.linear_1", "time_in.in_layer");
        whole(d, "time_text_embed.timestep_embedder.linear_2", "time_in.out_layer");
        whole(d, "time_text_embed.text_embedder.linear_1", "vector_in.in_layer");
        whole(d, "time_text_embed.text_embedder.linear_2", "vector_in.out_layer");
        if (linears.containsKey("guidance_in.in_layer")) {
            whole(d, "time_text_embed.guidance_embedder.linear_1", "guidance_in.in_layer");
            whole(d, "time_text_embed.guidance_embedder.linear_2", "guidance_in.out_layer");
        }
        d.put("norm_out.linear", new Target(Target.Component.TRANSFORMER, "final_layer.adaLN_modulation.1", 0, -1, true, ""));
        d.forEach((name, t) -> {
            String u = name.replace('.', '_');
            put("transformer." + name, withFormat(t, "diffusers"));
            put("lora_transformer_" + u, withFormat(t, "OneTrainer"));
            put("lycoris_" + u, withFormat(t, "LyCORIS"));
        });
    }

    /** XLabs (x-flux) attention LoRAs, with or without ComfyUI's prefix. */
    private void xlabs(Map<String, FluxTransformer.Shape> linears) {
        Map<String, Target> x = new HashMap<>();
        for (int i = 0; linears.containsKey("double_blocks." + i + ".img_attn.qkv"); i++) {
            String p = "double_blocks." + i + ".processor.", b = "double_blocks." + i + ".";
            whole(x, p + "qkv_lora1", b + "img_attn.qkv");
            whole(x, p + "proj_lora1", b + "img_attn.proj");
            whole(x, p + "qkv_lora2", b + "txt_attn.qkv");
            whole(x, p + "proj_lora2", b + "txt_attn.proj");
        }
        for (int j = 0; linears.containsKey("single_blocks." + j + ".linear1"); j++) {
            String p = "single_blocks." + j + ".processor.", b = "single_blocks." + j + ".";
            slice(x, p + "qkv_lora", b + "linear1", 0, 3 * linears.get("img_in").out());
            whole(x, p + "proj_lora", b + "linear2");
        }
        x.forEach((name, t) -> {
            put(name, withFormat(t, "XLabs"));
            put("diffusion_model." + name, withFormat(t, "XLabs"));
        });
    }

    private static void whole(Map<String, Target> m, String name, String module) {
        m.put(name, Target.whole(Target.Component.TRANSFORMER, module, ""));
    }

    private static void slice(Map<String, Target> m, String name, String module, int row, int rows) {
        m.put(name, new Target(Target.Component.TRANSFORMER, module, row, rows, false, ""));
    }

    private static Target withFormat(Target t, String format) {
        return new Target(t.component(), t.module(), t.row(), t.rows(), t.swapHalves(), format);
    }
}
