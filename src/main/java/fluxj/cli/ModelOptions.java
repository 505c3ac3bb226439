package fluxj.cli;

import fluxj.pipeline.ModelSource;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** Which model to load and where its parts are: the model options of {@code generate}, for commands that share them. */
final class ModelOptions {
    @Option(names = "--model", paramLabel = "DIR|FILE|REPO_ID", description = {"A diffusers folder, a transformer .safetensors file, or a Hugging Face repo id",
            "(found in the Hugging Face cache or downloaded into it). Default: " + ModelSource.DEFAULT_REPO + "."})
    String model;
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

    ModelSource source() {
        return ModelSource.of(model).withParts(vae, clipL, t5, clipTokenizer, t5Tokenizer, config);
    }
}
