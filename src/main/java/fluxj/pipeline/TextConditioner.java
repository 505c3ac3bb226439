package fluxj.pipeline;

/** Encodes a prompt into the transformer's text inputs (T5 sequence and pooled CLIP vector). */
@FunctionalInterface
public interface TextConditioner {
    Conditioning encode(String prompt);
}
