package fluxj.memory;

/** Called by a model around each of its repeated blocks, so weights can be paged in ahead and out after. */
public interface BlockHook {
    BlockHook NONE = new BlockHook() {
        @Override public void before(int block) {}
        @Override public void after(int block) {}
    };

    /** Block {@code block} is about to run: its weights must be resident when this returns. */
    void before(int block);

    /** Block {@code block} is done for this pass. */
    void after(int block);
}
