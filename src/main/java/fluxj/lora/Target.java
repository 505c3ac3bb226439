package fluxj.lora;

/**
 * The weight a LoRA module patches: linear layer {@code module} of {@code component} (BFL names for the
 * transformer, HF names for CLIP-L), output rows [row, row + rows) of it (-1 rows: all of them).
 * {@code swapHalves}: the delta comes in diffusers' order [scale; shift] and goes to BFL's [shift; scale].
 *
 * @param format the naming scheme the module name belongs to, for messages
 */
record Target(Component component, String module, int row, int rows, boolean swapHalves, String format) {
    enum Component { TRANSFORMER, CLIP }

    static Target whole(Component c, String module, String format) {
        return new Target(c, module, 0, -1, false, format);
    }

    /** The row count this target covers in a layer of {@code layerRows} rows. */
    int rowsIn(int layerRows) { return rows < 0 ? layerRows : rows; }
}
