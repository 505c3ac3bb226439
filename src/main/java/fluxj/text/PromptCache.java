package fluxj.text;

import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Remembers encoder outputs by token ids so a prompt is encoded once per process (a seed sweep or a batch of
 * images re-uses the embeddings). Least recently used entries go first once the held floats exceed the bound.
 * Callers get copies, so they may modify what they receive.
 */
public final class PromptCache {
    private record Key(int[] ids) {
        @Override public boolean equals(Object o) { return o instanceof Key k && Arrays.equals(k.ids, ids); }
        @Override public int hashCode() { return Arrays.hashCode(ids); }
    }

    private final long maxFloats;
    private final LinkedHashMap<Key, float[]> entries = new LinkedHashMap<>(16, 0.75f, true);
    private long heldFloats;
    private long misses;

    public PromptCache(long maxBytes) { this.maxFloats = maxBytes / Float.BYTES; }

    /** The cached result for {@code ids}, or {@code encode}'s, stored for next time. */
    public float[] get(int[] ids, Supplier<float[]> encode) {
        Key key = new Key(ids.clone());
        synchronized (this) {
            float[] hit = entries.get(key);
            if (hit != null) return hit.clone();
            misses++;
        }
        float[] value = encode.get();
        synchronized (this) {
            if (value.length <= maxFloats && entries.put(key, value.clone()) == null) {
                heldFloats += value.length;
                Iterator<Map.Entry<Key, float[]>> it = entries.entrySet().iterator();
                while (heldFloats > maxFloats) {
                    heldFloats -= it.next().getValue().length;
                    it.remove();
                }
            }
        }
        return value;
    }

    /** How many lookups had to encode. */
    public synchronized long misses() { return misses; }

    public synchronized int size() { return entries.size(); }
}
