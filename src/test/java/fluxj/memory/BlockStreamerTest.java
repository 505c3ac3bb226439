package fluxj.memory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class BlockStreamerTest {
    static final long BLOCK = 32L << 20;

    @Test
    void pagesBlocksInAheadAndOutAfter(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("weights.bin");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(4 * BLOCK);
            byte[] chunk = new byte[1 << 20];
            java.util.Arrays.fill(chunk, (byte) 1);
            for (long o = 0; o < 4 * BLOCK; o += chunk.length) raf.write(chunk);
        }
        try (Arena arena = Arena.ofShared(); FileChannel ch = FileChannel.open(f)) {
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, 4 * BLOCK, arena);
            List<List<MemorySegment>> blocks = new ArrayList<>();
            for (int i = 0; i < 4; i++) blocks.add(List.of(all.asSlice(i * BLOCK, BLOCK)));
            long before = ProcessMemory.rss();
            assertTrue(before > 0, "needs /proc/self/status");
            try (BlockStreamer s = new BlockStreamer(blocks, 2)) {
                long maxGrowth = 0;
                for (int step = 0; step < 2; step++) {
                    for (int b = 0; b < 4; b++) {
                        s.before(b);
                        maxGrowth = Math.max(maxGrowth, ProcessMemory.rss() - before);
                        s.after(b);
                    }
                }
                // At most the computing block plus the one prefetched are resident (plus slack for the JVM's own
                // allocations); all four at once would be 128 MiB.
                assertTrue(maxGrowth >= BLOCK / 2, "a block was never paged in: growth " + maxGrowth);
                assertTrue(maxGrowth < 3 * BLOCK, "more than the window stayed resident: growth " + maxGrowth);
            }
        }
    }
}
