package fluxj.io;

import fluxj.tensor.DType;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/** Finds the components of {@link ModelKind} among tensor names: an anchor name per kind gives each its prefix. */
final class Recogniser {
    private final Map<String, TensorSpec> byName = new LinkedHashMap<>();

    Recogniser(Collection<TensorSpec> tensors) {
        for (TensorSpec t : tensors) byName.put(t.name(), t);
    }

    ModelKind kind() {
        List<ModelKind> parts = components();
        if (parts.size() == 1) return parts.getFirst();
        if (parts.size() > 1) return new ModelKind.Bundle(parts, fp8(""));
        return new ModelKind.Unknown(looksLike(), fp8(""));
    }

    List<ModelKind> components() {
        List<ModelKind> found = new ArrayList<>();
        for (String p : prefixesOf("img_in.weight")) {
            if (has(p + "txt_in.weight")) {
                found.add(new ModelKind.Flux(p, ModelKind.Layout.BFL, has(p + "guidance_in.in_layer.weight"), dim(p + "img_in.weight", 1),
                        dim(p + "img_in.weight", 0), count(p + "double_blocks."), count(p + "single_blocks."), fp8(p)));
            }
        }
        for (String p : prefixesOf("x_embedder.weight")) {
            if (has(p + "context_embedder.weight")) {
                found.add(new ModelKind.Flux(p, ModelKind.Layout.DIFFUSERS, has(p + "time_text_embed.guidance_embedder.linear_1.weight"),
                        dim(p + "x_embedder.weight", 1), dim(p + "x_embedder.weight", 0), count(p + "transformer_blocks."),
                        count(p + "single_transformer_blocks."), fp8(p)));
            }
        }
        TreeSet<String> vaes = new TreeSet<>(prefixesOf("encoder.conv_in.weight"));
        vaes.addAll(prefixesOf("decoder.conv_in.weight"));
        for (String p : vaes) {
            boolean bfl = hasPrefix(p + "encoder.down.") || hasPrefix(p + "decoder.up.");
            boolean diffusers = hasPrefix(p + "encoder.down_blocks.") || hasPrefix(p + "decoder.up_blocks.");
            if (bfl == diffusers) continue;
            String enc = bfl ? "encoder.down." : "encoder.down_blocks.", dec = bfl ? "decoder.up." : "decoder.up_blocks.";
            int ch = has(p + "encoder.conv_in.weight") ? dim(p + "encoder.conv_in.weight", 0) : dim(p + "decoder.conv_out.weight", 1);
            int z = has(p + "decoder.conv_in.weight") ? dim(p + "decoder.conv_in.weight", 1) : dim(p + "encoder.conv_out.weight", 0) / 2;
            int levels = Math.max(count(p + enc), count(p + dec));
            found.add(new ModelKind.Vae(p, bfl ? ModelKind.Layout.BFL : ModelKind.Layout.DIFFUSERS, ch, levels, z, fp8(p)));
        }
        for (String p : prefixesOf("embeddings.token_embedding.weight")) {
            String tok = p + "embeddings.token_embedding.weight";
            found.add(new ModelKind.ClipText(p, dim(tok, 1), count(p + "encoder.layers."), dim(tok, 0), fp8(p)));
        }
        for (String p : prefixesOf("encoder.block.0.layer.0.SelfAttention.q.weight")) {
            String q = p + "encoder.block.0.layer.0.SelfAttention.q.weight";
            String bias = p + "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
            int dModel = dim(q, 1), layers = count(p + "encoder.block."), heads = has(bias) ? dim(bias, 1) : 0;
            String outer = p.endsWith("encoder.") && has(p.substring(0, p.length() - "encoder.".length()) + "final_projection.0.weight")
                    ? p.substring(0, p.length() - "encoder.".length()) : p;
            if (has(outer + "final_projection.0.weight")) {
                String last = has(outer + "final_projection.3.weight") ? outer + "final_projection.3.weight" : outer + "final_projection.0.weight";
                found.add(new ModelKind.DistillT5(outer, p.substring(outer.length()), dModel, layers, dim(last, 0), fp8(outer)));
            } else {
                found.add(new ModelKind.T5(p, dModel, layers, heads, fp8(p)));
            }
        }
        return found;
    }

    static String prefixNote(String prefix) { return prefix.isEmpty() ? "" : ", names prefixed '" + prefix + "'"; }

    /** The prefixes P (empty or ending with '.') for which P + suffix names a tensor. */
    private List<String> prefixesOf(String suffix) {
        List<String> out = new ArrayList<>();
        for (String k : byName.keySet()) {
            if (!k.endsWith(suffix)) continue;
            String p = k.substring(0, k.length() - suffix.length());
            if (p.isEmpty() || p.endsWith(".")) out.add(p);
        }
        return out;
    }

    private boolean has(String name) { return byName.containsKey(name); }

    private boolean hasPrefix(String prefix) { return byName.keySet().stream().anyMatch(k -> k.startsWith(prefix)); }

    /** Dimension i of a tensor, or 0 when the tensor is absent or has fewer dimensions. */
    private int dim(String name, int i) {
        TensorSpec t = byName.get(name);
        if (t == null || t.rank() <= i) return 0;
        long d = t.shape()[i];
        return d > Integer.MAX_VALUE ? 0 : (int) d;
    }

    /** The number of distinct N in names {@code prefix + N + "."}. */
    private int count(String prefix) {
        TreeSet<Integer> seen = new TreeSet<>();
        for (String k : byName.keySet()) {
            if (!k.startsWith(prefix)) continue;
            int dot = k.indexOf('.', prefix.length());
            String n = dot < 0 ? "" : k.substring(prefix.length(), dot);
            if (!n.isEmpty() && n.length() < 9 && n.chars().allMatch(Character::isDigit)) seen.add(Integer.parseInt(n));
        }
        return seen.size();
    }

    private ModelKind.Fp8 fp8(String prefix) {
        int e4m3 = 0, e5m2 = 0, scales = 0, quant = 0;
        boolean marker = has("scaled_fp8") || has(prefix + "scaled_fp8");
        for (TensorSpec t : byName.values()) {
            if (!t.name().startsWith(prefix)) continue;
            if (t.dtype() == DType.F8_E4M3) e4m3++;
            if (t.dtype() == DType.F8_E5M2) e5m2++;
            String n = t.name();
            if (n.endsWith(".scale_weight") || n.endsWith(".weight_scale") || n.endsWith(".input_scale")) scales++;
            if (n.endsWith(".comfy_quant")) quant++;
        }
        return new ModelKind.Fp8(e4m3, e5m2, marker, scales, quant);
    }

    private String looksLike() {
        if (byName.isEmpty()) return "no tensors";
        List<String> hints = new ArrayList<>();
        long lora = byName.keySet().stream().filter(k -> k.contains("lora_") || k.contains(".lora.")).count();
        if (lora > 0) hints.add("a LoRA adapter (" + lora + " lora tensors)");
        if (hasInfix("input_blocks.") && hasInfix("middle_block.")) hints.add("a Stable Diffusion style UNet");
        if (hasInfix("vision_model.")) hints.add("a CLIP vision model");
        if (hasInfix("decoder.block.")) hints.add("a T5 decoder");
        if (hasInfix("model.layers.") && hasInfix("self_attn.")) hints.add("a decoder-only language model");
        if (hasInfix("double_blocks.") || hasInfix("single_blocks.")) hints.add("FLUX blocks without img_in/txt_in (a partial transformer)");
        Map<String, Integer> groups = new TreeMap<>();
        for (String k : byName.keySet()) {
            int dot = k.indexOf('.');
            groups.merge(dot < 0 ? k : k.substring(0, dot), 1, Integer::sum);
        }
        StringBuilder b = new StringBuilder(hints.isEmpty() ? "" : "looks like " + String.join(", ", hints) + "; ");
        b.append(byName.size()).append(" tensors, top-level names: ");
        int shown = 0;
        for (var g : groups.entrySet()) {
            if (shown++ == 8) { b.append(", ... (").append(groups.size()).append(" groups)"); break; }
            b.append(shown == 1 ? "" : ", ").append(g.getKey()).append(" (").append(g.getValue()).append(')');
        }
        return b.toString();
    }

    private boolean hasInfix(String s) { return byName.keySet().stream().anyMatch(k -> k.startsWith(s) || k.contains("." + s)); }
}
