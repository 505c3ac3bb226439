package fluxj.lora;

import fluxj.io.SafeTensors;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One mapped LoRA safetensors file, its tensors grouped into modules: a module is a key without one of the
 * suffixes below ({@code lora_unet_double_blocks_0_img_attn_qkv} for {@code ...qkv.lora_down.weight}). A key with
 * no known suffix is a module of its own (a norm scale of BFL's control LoRAs, or something that matches nothing).
 */
final class LoraFile implements AutoCloseable {
    /** Longest first where one suffix ends another. */
    static final List<String> SUFFIXES = List.of(
            ".lora_up.weight", ".lora_down.weight", ".lora_mid.weight", ".lora_A.weight", ".lora_B.weight", ".lora_B.bias",
            ".hada_w1_a", ".hada_w1_b", ".hada_w2_a", ".hada_w2_b", ".hada_t1", ".hada_t2",
            ".lokr_w1_a", ".lokr_w1_b", ".lokr_w2_a", ".lokr_w2_b", ".lokr_w1", ".lokr_w2", ".lokr_t2",
            ".dora_scale", ".alpha", ".diff_b", ".diff", ".down.weight", ".up.weight");

    private final Path path;
    private final SafeTensors file;
    private final Map<String, Map<String, Tensor>> modules = new LinkedHashMap<>();

    private LoraFile(Path path, SafeTensors file) {
        this.path = path;
        this.file = file;
        for (var e : file.tensors().entrySet()) {
            String key = e.getKey(), suffix = SUFFIXES.stream().filter(key::endsWith).findFirst().orElse("");
            if (suffix.length() == key.length()) suffix = "";
            modules.computeIfAbsent(key.substring(0, key.length() - suffix.length()), k -> new LinkedHashMap<>()).put(suffix, e.getValue());
        }
    }

    /** Maps {@code path}; a file that is not valid safetensors is an error naming it. */
    static LoraFile open(Path path) throws IOException {
        SafeTensors st = SafeTensors.open(path);
        if (st.tensors().isEmpty()) {
            st.close();
            throw new ModelFormatException(path.toString(), "holds no tensors: not a LoRA");
        }
        return new LoraFile(path, st);
    }

    Path path() { return path; }

    /** Module name to its tensors by suffix ("" for a key without a known suffix), in file order. */
    Map<String, Map<String, Tensor>> modules() { return modules; }

    @Override
    public void close() { file.close(); }
}
