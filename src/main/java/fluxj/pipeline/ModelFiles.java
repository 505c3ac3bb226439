package fluxj.pipeline;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Where every part of a model is, once a {@link ModelSource} is resolved. Each {@code *Config} is the component's
 * configuration map (a diffusers config.json or a sub-object of a --config sidecar) or null to infer it from the
 * tensors; {@code schedulerConfig} is a diffusers scheduler_config.json or null.
 *
 * @param transformerFiles the weight files hashed for the "Model hash" of the PNG parameters
 */
public record ModelFiles(String name, Path transformer, Map<String, Object> transformerConfig,
                         Path vae, Map<String, Object> vaeConfig,
                         Path clip, Map<String, Object> clipConfig,
                         Path t5, Map<String, Object> t5Config,
                         Path clipTokenizer, Path t5Tokenizer, Path schedulerConfig,
                         List<Path> transformerFiles) {
}
