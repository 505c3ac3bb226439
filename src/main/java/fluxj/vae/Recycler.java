package fluxj.vae;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeMap;

/**
 * Activation arrays of a forward pass: those a step is done with are handed back and handed out again for a
 * later array of the same or a smaller length, contents and all (every taker writes the part it uses first and
 * reads no further). Not shared between threads.
 */
final class Recycler {
    private final TreeMap<Integer, ArrayDeque<float[]>> free = new TreeMap<>();

    /** An array of at least n floats (the smallest held, else exactly n) holding anything. */
    float[] take(int n) {
        Map.Entry<Integer, ArrayDeque<float[]>> e = free.ceilingEntry(n);
        if (e == null) return new float[n];
        float[] a = e.getValue().pop();
        if (e.getValue().isEmpty()) free.remove(e.getKey());
        return a;
    }

    /** a is no longer read or written by its owner. */
    void give(float[] a) {
        free.computeIfAbsent(a.length, n -> new ArrayDeque<>()).push(a);
    }

    /** Forgets the arrays held. */
    void clear() {
        free.clear();
    }
}
