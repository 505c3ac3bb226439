package fluxj.text;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.*;

class PromptCacheTest {
    @Test
    void samePromptIsEncodedOnce() {
        PromptCache cache = new PromptCache(1 << 20);
        AtomicInteger calls = new AtomicInteger();
        Supplier<float[]> encode = () -> new float[]{calls.incrementAndGet()};
        assertArrayEquals(new float[]{1}, cache.get(new int[]{5, 6, 1}, encode));
        assertArrayEquals(new float[]{1}, cache.get(new int[]{5, 6, 1}, encode));
        assertArrayEquals(new float[]{2}, cache.get(new int[]{5, 6, 2}, encode));
        assertEquals(2, calls.get());
        assertEquals(2, cache.misses());
    }

    @Test
    void callersCannotChangeWhatIsCached() {
        PromptCache cache = new PromptCache(1 << 20);
        int[] ids = {3, 1};
        float[] first = cache.get(ids, () -> new float[]{7f});
        first[0] = 0f;
        ids[0] = 4;
        assertArrayEquals(new float[]{7f}, cache.get(new int[]{3, 1}, () -> new float[]{9f}));
    }

    @Test
    void leastRecentlyUsedEntriesAreDroppedBeyondTheBound() {
        PromptCache cache = new PromptCache(2 * 100 * Float.BYTES);
        cache.get(new int[]{1}, () -> new float[100]);
        cache.get(new int[]{2}, () -> new float[100]);
        cache.get(new int[]{1}, () -> new float[100]);
        cache.get(new int[]{3}, () -> new float[100]);
        assertEquals(2, cache.size());
        assertEquals(3, cache.misses());
        cache.get(new int[]{1}, () -> new float[100]);
        assertEquals(3, cache.misses(), "1 was used recently and kept");
        cache.get(new int[]{2}, () -> new float[100]);
        assertEquals(4, cache.misses(), "2 was the least recently used and dropped");
        cache.get(new int[]{9}, () -> new float[1000]);
        assertEquals(2, cache.size(), "an entry larger than the bound is returned but not kept");
    }
}
