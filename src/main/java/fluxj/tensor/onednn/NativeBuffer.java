package fluxj.tensor.onednn;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A native buffer that only grows, reused across oneDNN calls (only touched under {@link OneDnnMatmul#LOCK}). The
 * buffers outlive any one model, so the pipeline frees them all with {@link #releaseAll()} when a phase's models
 * are released; the next call allocates again.
 */
public final class NativeBuffer {
    /** Every buffer made (they are static fields of the oneDNN kernels), for {@link #releaseAll()}. */
    private static final List<NativeBuffer> ALL = new CopyOnWriteArrayList<>();
    private Arena arena;
    private MemorySegment segment = MemorySegment.NULL;

    NativeBuffer() {
        ALL.add(this);
    }

    /** At least {@code bytes} bytes, 64-byte aligned; contents are undefined after a growth. */
    MemorySegment atLeast(long bytes) {
        if (segment.byteSize() < bytes) {
            release();
            arena = Arena.ofShared();
            segment = arena.allocate(bytes, 64);
        }
        return segment;
    }

    private void release() {
        if (arena != null) arena.close();
        arena = null;
        segment = MemorySegment.NULL;
    }

    /** Frees every oneDNN buffer, waiting for a call that is using them to finish. */
    public static void releaseAll() {
        OneDnnMatmul.LOCK.lock();
        try {
            ALL.forEach(NativeBuffer::release);
        } finally {
            OneDnnMatmul.LOCK.unlock();
        }
    }

    /** Bytes the oneDNN buffers hold now. */
    public static long heldBytes() {
        OneDnnMatmul.LOCK.lock();
        try {
            return ALL.stream().mapToLong(b -> b.segment.byteSize()).sum();
        } finally {
            OneDnnMatmul.LOCK.unlock();
        }
    }
}
