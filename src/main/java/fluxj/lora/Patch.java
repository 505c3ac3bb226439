package fluxj.lora;

import fluxj.tensor.Tensor;

/**
 * What one module of one LoRA file does to its target, at strength {@code weight}: a weight delta (null when the
 * module only moves the bias), a bias delta {@code bias} (ComfyUI's {@code .diff_b}, BFL's {@code lora_B.bias}),
 * and for BFL's control LoRAs the widened input count {@code widenTo} (0: the layer keeps its inputs).
 *
 * @param key the module's first key, named in errors
 */
record Patch(Target target, Delta delta, Tensor bias, double weight, int widenTo, String file, String key) {}
