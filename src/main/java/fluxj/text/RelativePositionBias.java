package fluxj.text;

import fluxj.tensor.Parallel;

/**
 * T5's bidirectional relative position bias: the key-minus-query distance is put in a bucket (exact for short
 * distances, logarithmic up to {@code maxDistance}), and each bucket has a learned bias per head. Computed once
 * per sequence by the first block and shared by all blocks, as in the reference.
 */
final class RelativePositionBias {
    private RelativePositionBias() {}

    /** bias [heads, lq, lk] from the learned table [buckets, heads]. */
    static float[] compute(float[] table, int buckets, int heads, int maxDistance, int lq, int lk) {
        int[] bucketOf = new int[lq + lk - 1];
        for (int rel = -(lq - 1); rel < lk; rel++) bucketOf[rel + lq - 1] = bucket(rel, buckets, maxDistance);
        float[] bias = new float[heads * lq * lk];
        Parallel.forEach(heads, h -> {
            for (int i = 0; i < lq; i++) {
                int row = (h * lq + i) * lk;
                for (int j = 0; j < lk; j++) bias[row + j] = table[bucketOf[j - i + lq - 1] * heads + h];
            }
        });
        return bias;
    }

    /** The bucket of distance {@code rel} = key - query, with the reference's float32 logarithm and truncation. */
    static int bucket(int rel, int buckets, int maxDistance) {
        int half = buckets / 2, maxExact = half / 2;
        int base = rel > 0 ? half : 0;
        int a = Math.abs(rel);
        if (a < maxExact) return base + a;
        float large = (float) Math.log((float) a / maxExact) / (float) Math.log((double) maxDistance / maxExact) * (half - maxExact);
        return base + Math.min(maxExact + (int) large, half - 1);
    }
}
