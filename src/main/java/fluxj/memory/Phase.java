package fluxj.memory;

/**
 * The stages of a generation, in order; each component is needed in exactly one. ENCODE_IMAGES runs only when
 * the request has input images (init image, Fill image, Kontext references, control image).
 */
public enum Phase {
    ENCODE("encode prompt"), ENCODE_IMAGES("encode images"), DENOISE("denoise"), DECODE("decode latents");

    private final String label;

    Phase(String label) { this.label = label; }

    public String label() { return label; }
}
