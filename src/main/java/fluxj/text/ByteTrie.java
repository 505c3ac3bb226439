package fluxj.text;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * An immutable trie over byte strings mapping each key to an int, walked one byte at a time (what sentencepiece
 * does with its double-array trie). Children of a node are contiguous and sorted, found by binary search.
 */
final class ByteTrie {
    /** Node 0 is the root. */
    static final int ROOT = 0;

    private int[] value = new int[64];
    private int[] firstEdge = new int[64];
    private int[] edgeCount = new int[64];
    private byte[] label = new byte[64];
    private int[] target = new int[64];
    private int nodes, edges;

    /** One key and its value. */
    record Entry(byte[] key, int value) {}

    /** @throws IllegalArgumentException naming a key that occurs twice */
    ByteTrie(List<Entry> entries) {
        Entry[] sorted = entries.toArray(Entry[]::new);
        Arrays.sort(sorted, Comparator.comparing(Entry::key, Arrays::compareUnsigned));
        for (int i = 1; i < sorted.length; i++) {
            if (Arrays.equals(sorted[i - 1].key(), sorted[i].key()))
                throw new IllegalArgumentException("duplicate key " + new String(sorted[i].key(), StandardCharsets.UTF_8));
        }
        newNode();
        // Breadth-first with an explicit queue: keys may be long, so no recursion.
        ArrayDeque<int[]> todo = new ArrayDeque<>();
        todo.add(new int[]{ROOT, 0, sorted.length, 0});
        while (!todo.isEmpty()) {
            int[] t = todo.poll();
            fill(t[0], sorted, t[1], t[2], t[3], todo);
        }
        value = Arrays.copyOf(value, nodes);
        firstEdge = Arrays.copyOf(firstEdge, nodes);
        edgeCount = Arrays.copyOf(edgeCount, nodes);
        label = Arrays.copyOf(label, edges);
        target = Arrays.copyOf(target, edges);
    }

    /** Gives {@code node} its value and children from the keys {@code [lo, hi)}, which share their first {@code depth} bytes. */
    private void fill(int node, Entry[] keys, int lo, int hi, int depth, ArrayDeque<int[]> todo) {
        if (lo < hi && keys[lo].key().length == depth) value[node] = keys[lo++].value();
        int groups = 0;
        for (int i = lo; i < hi; i++) if (i == lo || keys[i].key()[depth] != keys[i - 1].key()[depth]) groups++;
        int base = edges;
        edges += groups;
        ensureEdges(edges);
        firstEdge[node] = base;
        edgeCount[node] = groups;
        for (int g = 0, i = lo; i < hi; g++) {
            int j = i;
            while (j < hi && keys[j].key()[depth] == keys[i].key()[depth]) j++;
            int child = newNode();
            label[base + g] = keys[i].key()[depth];
            target[base + g] = child;
            todo.add(new int[]{child, i, j, depth + 1});
            i = j;
        }
    }

    private int newNode() {
        if (nodes == value.length) {
            int n = nodes * 2;
            value = Arrays.copyOf(value, n);
            firstEdge = Arrays.copyOf(firstEdge, n);
            edgeCount = Arrays.copyOf(edgeCount, n);
        }
        value[nodes] = -1;
        return nodes++;
    }

    private void ensureEdges(int n) {
        if (n > label.length) {
            int size = Math.max(n, label.length * 2);
            label = Arrays.copyOf(label, size);
            target = Arrays.copyOf(target, size);
        }
    }

    /** The child of {@code node} along byte {@code b}, or -1. */
    int child(int node, byte b) {
        int lo = firstEdge[node], hi = lo + edgeCount[node] - 1;
        int key = b & 0xFF;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            int l = label[mid] & 0xFF;
            if (l < key) lo = mid + 1;
            else if (l > key) hi = mid - 1;
            else return target[mid];
        }
        return -1;
    }

    /** The value of the key ending at {@code node}, or -1 when no key ends there. */
    int value(int node) {
        return value[node];
    }

    /** Length of the longest key that is a prefix of {@code s[from, to)}, or 0. */
    int longestPrefix(byte[] s, int from, int to) {
        int node = ROOT, best = 0;
        for (int i = from; i < to; i++) {
            node = child(node, s[i]);
            if (node < 0) break;
            if (value[node] >= 0) best = i + 1 - from;
        }
        return best;
    }

    /** The value of exactly {@code key}, or -1. */
    int get(byte[] key) {
        int node = ROOT;
        for (byte b : key) {
            node = child(node, b);
            if (node < 0) return -1;
        }
        return value[node];
    }
}
