package fluxj.pipeline;

import java.util.List;

/**
 * A prompt as the transformer sees it: the T5 sequence {@code txt} [txtLen, contextDim] row-major and the pooled
 * CLIP vector {@code vec}; {@code warnings} tell the user about truncated prompts.
 */
public record Conditioning(float[] txt, int txtLen, float[] vec, List<String> warnings) {
    public Conditioning {
        if (txtLen <= 0 || txt.length % txtLen != 0) throw new IllegalArgumentException("txt of " + txt.length + " values is not " + txtLen + " rows");
        warnings = List.copyOf(warnings);
    }
}
