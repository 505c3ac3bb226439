package fluxj.cli;

import fluxj.pipeline.ModelSource;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The options that say where a model's other parts are, shared by the commands that load models. */
final class ModelParts {
    @Option(names = "--vae", paramLabel = "FILE", description = "VAE weights (ae.safetensors); default: the model's, or beside the transformer file.")
    Path vae;
    @Option(names = "--clip-l", paramLabel = "FILE", description = "CLIP-L text encoder weights; default: the model's, or clip_l.safetensors beside the transformer file.")
    Path clipL;
    @Option(names = "--t5", paramLabel = "FILE", description = "T5-XXL (or DistillT5) encoder weights; default: the model's, or t5xxl*.safetensors beside the transformer file.")
    Path t5;
    @Option(names = "--clip-tokenizer", paramLabel = "DIR", description = "CLIP tokenizer folder (vocab.json + merges.txt, or tokenizer.json).")
    Path clipTokenizer;
    @Option(names = "--t5-tokenizer", paramLabel = "DIR|FILE", description = "T5 tokenizer (spiece.model or its folder, or tokenizer.json).")
    Path t5Tokenizer;
    @Option(names = "--config", paramLabel = "FILE", description = "Sidecar JSON with flux_params / ae_params / clip_config / t5_config for files whose sizes break FLUX.1's constants.")
    Path config;

    /** {@code model} (null = the default repo) with these parts. */
    ModelSource source(String model) {
        return ModelSource.of(model).withParts(vae, clipL, t5, clipTokenizer, t5Tokenizer, config);
    }
}
