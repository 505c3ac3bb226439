package fluxj.memory;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Streams a model's blocks through memory: while block i computes, the next {@code window - 1} blocks are
 * paged in on an I/O thread ({@link MemorySegment#load()}), and block i's pages are released right after it
 * ({@link MemorySegment#unload()}, madvise DONTNEED: they leave the process's RSS and stay in the OS page
 * cache only while memory allows). Blocks are visited cyclically, so the last block prefetches the first for
 * the next step. Segments that are not file mappings (converted weights) are left alone.
 */
public final class BlockStreamer implements BlockHook, AutoCloseable {
    private final List<List<MemorySegment>> blocks;
    private final int window;
    private final CompletableFuture<?>[] pending;
    private final ExecutorService io = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "fluxj-prefetch");
        t.setDaemon(true);
        return t;
    });

    public BlockStreamer(List<List<MemorySegment>> blocks, int window) {
        if (window < 1) throw new IllegalArgumentException("window must be >= 1");
        this.blocks = List.copyOf(blocks);
        this.window = window;
        this.pending = new CompletableFuture<?>[blocks.size()];
    }

    @Override
    public void before(int block) {
        CompletableFuture<?> f = pending[block];
        if (f == null) load(block); else f.join();
        pending[block] = null;
        for (int a = 1; a < window; a++) {
            int next = (block + a) % blocks.size();
            if (next != block && pending[next] == null) pending[next] = CompletableFuture.runAsync(() -> load(next), io);
        }
    }

    @Override
    public void after(int block) {
        if (blocks.size() <= window) return;
        for (MemorySegment s : blocks.get(block)) if (s.isMapped()) s.unload();
    }

    private void load(int block) {
        for (MemorySegment s : blocks.get(block)) if (s.isMapped()) s.load();
    }

    @Override
    public void close() { io.shutdownNow(); }
}
