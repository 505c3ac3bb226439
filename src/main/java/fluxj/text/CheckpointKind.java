package fluxj.text;

import fluxj.io.Checkpoint;
import fluxj.tensor.ModelFormatException;

import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Finds a text encoder inside a checkpoint whatever prefix its saver put on the names, and says what a file
 * looks like when it holds something else (users mix up the four FLUX.1 files easily).
 */
final class CheckpointKind {
    private CheckpointKind() {}

    private record Sign(String marker, String kind) {}

    /** Ordered: more specific markers first (a DistillT5 also has T5 blocks). */
    private static final List<Sign> SIGNS = List.of(
            new Sign("double_blocks.", "a FLUX transformer"),
            new Sign("single_transformer_blocks.", "a FLUX transformer"),
            new Sign("decoder.up", "a VAE (autoencoder)"),
            new Sign("decoder.conv_in.", "a VAE (autoencoder)"),
            new Sign("final_projection.0.weight", "a DistillT5 text encoder"),
            new Sign("encoder.block.0.layer.0.SelfAttention.", "a T5 text encoder"),
            new Sign("embeddings.token_embedding.weight", "a CLIP text encoder"),
            new Sign("vision_model.", "a CLIP vision model"),
            new Sign("model.layers.0.self_attn.", "a decoder-only language model"));

    /** What the checkpoint looks like, e.g. "a FLUX transformer". */
    static String guess(Checkpoint ck) {
        for (Sign s : SIGNS) {
            for (String name : ck.tensors().keySet()) if (name.contains(s.marker())) return s.kind();
        }
        return ck.tensors().isEmpty() ? "an empty checkpoint"
                : "an unknown model (" + ck.tensors().size() + " tensors, e.g. '" + ck.names().iterator().next() + "')";
    }

    /** The shortest name ending with {@code suffix}, minus the suffix: the prefix the saver used. */
    static Optional<String> prefixOf(Checkpoint ck, String suffix) {
        return ck.tensors().keySet().stream().filter(n -> n.endsWith(suffix) && isBoundary(n, suffix))
                .min(Comparator.comparingInt(String::length))
                .map(n -> n.substring(0, n.length() - suffix.length()));
    }

    /** Like {@link #prefixOf} but an error saying what the file is when the marker is absent. */
    static String requirePrefix(Checkpoint ck, String suffix, String wanted) {
        return prefixOf(ck, suffix).orElseThrow(() -> new ModelFormatException(ck.description(),
                "looks like " + guess(ck) + ", not " + wanted + " (no tensor named '..." + suffix + "')"));
    }

    private static boolean isBoundary(String name, String suffix) {
        int at = name.length() - suffix.length();
        return at == 0 || name.charAt(at - 1) == '.';
    }
}
