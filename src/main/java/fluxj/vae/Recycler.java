package fluxj.vae;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Activation arrays of one forward pass: those a step is done with are handed back and handed out again for the
 * next array of the same length, contents and all (every taker overwrites the whole array). One per pass and
 * thread, dropped with it.
 */
final class Recycler {
    private final Map<Integer, ArrayDeque<float[]>> free = new HashMap<>();

    /** An array of n floats holding anything. */
    float[] take(int n) {
        ArrayDeque<float[]> q = free.get(n);
        float[] a = q == null ? null : q.poll();
        return a != null ? a : new float[n];
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
