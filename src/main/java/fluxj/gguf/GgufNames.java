package fluxj.gguf;

import fluxj.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The torch-side names of a GGUF file's tensors. FLUX files (city96's and stable-diffusion.cpp's) already use BFL
 * names (the latter prefixed {@code model.diffusion_model.}, which loaders strip as for safetensors). llama.cpp T5
 * encoder files use llama.cpp's names, mapped back to Hugging Face T5EncoderModel names by ComfyUI-GGUF's
 * substring replacements, in its order.
 */
public final class GgufNames {
    private GgufNames() {}

    private static final List<String[]> T5 = List.of(
            new String[] {"enc.", "encoder."},
            new String[] {".blk.", ".block."},
            new String[] {"token_embd", "shared"},
            new String[] {"output_norm", "final_layer_norm"},
            new String[] {"attn_q", "layer.0.SelfAttention.q"},
            new String[] {"attn_k", "layer.0.SelfAttention.k"},
            new String[] {"attn_v", "layer.0.SelfAttention.v"},
            new String[] {"attn_o", "layer.0.SelfAttention.o"},
            new String[] {"attn_norm", "layer.0.layer_norm"},
            new String[] {"attn_rel_b", "layer.0.SelfAttention.relative_attention_bias"},
            new String[] {"ffn_gate", "layer.1.DenseReluDense.wi_0"},
            new String[] {"ffn_up", "layer.1.DenseReluDense.wi_1"},
            new String[] {"ffn_down", "layer.1.DenseReluDense.wo"},
            new String[] {"ffn_norm", "layer.1.layer_norm"});

    /** The file's tensors under the names torch code knows them by, in file order. */
    public static Map<String, Tensor> torchNames(GgufFile f) {
        boolean t5 = isLlamaT5(f);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Tensor t : f.tensors().values()) {
            String name = t5 ? t5Name(t.name()) : t.name();
            Tensor renamed = name.equals(t.name()) ? t : new Tensor(name, t.dtype(), t.shape(), t.data(), t.scale(), t.source());
            if (out.putIfAbsent(name, renamed) != null) {
                throw new fluxj.tensor.ModelFormatException(f.path().toString(), "tensor '" + t.name() + "' maps to '" + name + "', which another tensor already has");
            }
        }
        return out;
    }

    /** llama.cpp's T5 (encoder) architecture, or its tensor names without metadata. */
    static boolean isLlamaT5(GgufFile f) {
        String arch = f.string("general.architecture");
        if ("t5encoder".equals(arch) || "t5".equals(arch)) return true;
        return arch == null && f.tensors().keySet().stream().anyMatch(n -> n.startsWith("enc.blk."));
    }

    /** A Hugging Face T5EncoderModel name as llama.cpp names it: the replacements undone, last first. */
    public static String llamaT5Name(String hf) {
        String n = hf;
        for (String[] r : T5.reversed()) n = n.replace(r[1], r[0]);
        return n;
    }

    /** A llama.cpp T5 tensor name as Hugging Face's T5EncoderModel names it. */
    public static String t5Name(String llama) {
        String n = llama;
        for (String[] r : T5) n = n.replace(r[0], r[1]);
        return n;
    }
}
