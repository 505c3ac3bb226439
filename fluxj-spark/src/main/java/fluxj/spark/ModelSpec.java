package fluxj.spark;

import fluxj.pipeline.ModelSource;

import java.io.Serializable;
import java.nio.file.Path;

/**
 * The model options of a job, as plain strings shipped to the executors: local paths (the same on every node) or
 * a Hugging Face repo id (each node's cache). Null parts are found as {@code fluxj generate} finds them.
 */
public record ModelSpec(String model, String vae, String clipL, String t5, String clipTokenizer, String t5Tokenizer,
                        String config) implements Serializable {
    public ModelSource source() {
        return ModelSource.of(model).withParts(path(vae), path(clipL), path(t5), path(clipTokenizer), path(t5Tokenizer), path(config));
    }

    private static Path path(String s) {
        return s == null ? null : Path.of(s);
    }
}
