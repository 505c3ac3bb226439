package fluxj.memory;

/** The stages of a generation, in order; each component is needed in exactly one. */
public enum Phase {
    ENCODE("encode prompt"), DENOISE("denoise"), DECODE("decode latents");

    private final String label;

    Phase(String label) { this.label = label; }

    public String label() { return label; }
}
