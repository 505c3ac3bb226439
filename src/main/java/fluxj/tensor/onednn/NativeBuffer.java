package fluxj.tensor.onednn;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** A native buffer that only grows, reused across oneDNN calls (only touched under {@link OneDnnMatmul#LOCK}). */
final class NativeBuffer {
    private Arena arena;
    private MemorySegment segment = MemorySegment.NULL;

    /** At least {@code bytes} bytes, 64-byte aligned; contents are undefined after a growth. */
    MemorySegment atLeast(long bytes) {
        if (segment.byteSize() < bytes) {
            if (arena != null) arena.close();
            arena = Arena.ofShared();
            segment = arena.allocate(bytes, 64);
        }
        return segment;
    }
}
