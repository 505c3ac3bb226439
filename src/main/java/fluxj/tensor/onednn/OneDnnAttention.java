package fluxj.tensor.onednn;

import fluxj.tensor.Parallel;
import fluxj.tensor.VectorMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Multi-head attention {@code softmax(scale * Q K^T) V} of {@code --matmul onednn}, as PyTorch computes it in bf16
 * on the CPU: q, k and v rounded to bf16, the scores Q K^T of a head by oneDNN's bf16 matmul (f32 sums), the
 * softmax in f32 in Java, the probabilities rounded to bf16 and multiplied by V with oneDNN again. Layouts are
 * those of {@link fluxj.tensor.Attention}: q/k/v/out [L, H*D], token-major; each head's operands are read in
 * place through strided descriptors. All heads go through one batched primitive per product (one call instead of
 * one per head, which left oneDNN's threads idle between the small per-head products); the scores of every head
 * for a block of queries exist at a time.
 */
public final class OneDnnAttention {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    // Every head's scores for a block of queries: 160 MB holds a 512x512 image's 1280 queries in one block (1.3-1.4x the
    // attention rate of 64 MB's three blocks in one run: each block repacks all of K for the AMX kernel).
    private static final long MAX_SCORES_BYTES = 160L << 20;
    private static final int CACHED_SHAPES = 16;
    private static final Map<Shape, Dnnl.Primitive[]> PRIMITIVES = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Shape, Dnnl.Primitive[]> eldest) {
            if (size() <= CACHED_SHAPES) return false;
            for (Dnnl.Primitive p : eldest.getValue()) p.destroy();
            return true;
        }
    };
    /** The implementations oneDNN chose for the products so far. */
    private static final Set<String> IMPLS = new TreeSet<>();
    private static final NativeBuffer Q = new NativeBuffer(), K = new NativeBuffer(), V = new NativeBuffer(),
            SCORES = new NativeBuffer(), PROBS = new NativeBuffer(), OUT = new NativeBuffer();

    private record Shape(int rows, int lq, int lk, int heads, int headDim) {}

    private OneDnnAttention() {}

    /** The implementations oneDNN chose for the attention products run so far (e.g. brg:avx512_core_amx_bf16). */
    public static List<String> implementations() {
        OneDnnMatmul.LOCK.lock();
        try {
            return List.copyOf(IMPLS);
        } finally {
            OneDnnMatmul.LOCK.unlock();
        }
    }

    /** Attention without bias or mask: the arguments of {@link fluxj.tensor.Attention#attention}, validated by it. */
    public static void attention(float[] q, float[] k, float[] v, int lq, int lk, int heads, int headDim, float scale, float[] out) {
        attention(q, k, v, lq, lk, heads, headDim, scale, out, MAX_SCORES_BYTES);
    }

    /** With the scores of a block of queries bounded by {@code maxScoresBytes}. */
    static void attention(float[] q, float[] k, float[] v, int lq, int lk, int heads, int headDim, float scale, float[] out,
                          long maxScoresBytes) {
        int width = heads * headDim;
        Dnnl dnnl = OneDnnLibrary.require().dnnl();
        OneDnnMatmul.LOCK.lock();
        try {
            MemorySegment qs = Q.atLeast((long) lq * width * 2), ks = K.atLeast((long) lk * width * 2), vs = V.atLeast((long) lk * width * 2);
            MemorySegment o = OUT.atLeast((long) lq * width * 4);
            // Head-major copies [H, L, D], the queries' and the output's per block of queries ([H, m, D] each): every
            // operand of a block dense, as oneDNN's batched brgemm kernels take them (strided batches fall back to gemm:jit).
            int rows = queryRows(lq, (long) heads * lk, maxScoresBytes);
            Bf16.headMajorParallel(q, lq, rows, heads, headDim, qs);
            Bf16.headMajorParallel(k, lk, lk, heads, headDim, ks);
            Bf16.headMajorParallel(v, lk, lk, heads, headDim, vs);
            long block = (long) rows * lk;
            MemorySegment scores = SCORES.atLeast(heads * block * 4), probs = PROBS.atLeast(heads * block * 2);
            for (int q0 = 0; q0 < lq; q0 += rows) {
                int m = Math.min(rows, lq - q0);
                Dnnl.Primitive[] p = primitives(dnnl, m, lq, lk, heads, headDim);
                double flops = 2.0 * heads * m * lk * headDim;
                long start = System.nanoTime();
                p[0].execute(qs.address() + (long) q0 * width * 2, ks.address(), scores.address());
                OneDnnTime.add(start, flops);
                softmax(scores, heads, m, lk, scale, probs);
                start = System.nanoTime();
                p[1].execute(probs.address(), vs.address(), o.address() + (long) q0 * width * 4);
                OneDnnTime.add(start, flops);
            }
            tokenMajor(o, lq, rows, heads, headDim, out);
        } finally {
            OneDnnMatmul.LOCK.unlock();
        }
    }

    /** Bytes of the native buffers {@link #attention} keeps after lq queries over lk keys of {@code heads} x {@code headDim} values. */
    public static long bufferBytes(int lq, int lk, int heads, int headDim) {
        if (lq == 0 || lk == 0) return 0;
        long width = (long) heads * headDim;
        int rows = queryRows(lq, (long) heads * lk, MAX_SCORES_BYTES);
        return 2L * width * (lq + 2L * lk) + 4L * lq * width + 6L * heads * rows * lk;
    }

    /**
     * Query rows per block: equal blocks whose scores (for {@code lk} keys, every head's) stay within the bound (VAE
     * attention at 1024x1024 has 16384 keys).
     */
    private static int queryRows(int lq, long lk, long maxScoresBytes) {
        int blocks = (int) Math.min(lq, ((long) lq * lk * 4 - 1) / maxScoresBytes + 1);
        return (lq + blocks - 1) / blocks;
    }

    private static Dnnl.Primitive[] primitives(Dnnl dnnl, int m, int lq, int lk, int heads, int headDim) {
        long block = (long) m * lk;
        return PRIMITIVES.computeIfAbsent(new Shape(m, lq, lk, heads, headDim), s -> {
            Dnnl.Primitive[] made = {
                    // scores[h, m, lk] = q_h [m, D] x k_h^T [D, lk], k_h^T read down k_h's rows.
                    dnnl.matmul(heads, m, headDim, lk, new long[] {(long) m * headDim, headDim, 1}, new long[] {(long) lk * headDim, 1, headDim},
                            new long[] {block, lk, 1}, Dnnl.F32),
                    // out_h [m, D] = probs_h [m, lk] x v_h [lk, D].
                    dnnl.matmul(heads, m, lk, headDim, new long[] {block, lk, 1}, new long[] {(long) lk * headDim, headDim, 1},
                            new long[] {(long) m * headDim, headDim, 1}, Dnnl.F32)};
            for (Dnnl.Primitive p : made) IMPLS.add(p.impl);
            return made;
        });
    }

    /**
     * out[t, h * D + d] = o[h, t, d] of t's block of query rows: the heads' outputs back to token-major, tokens spread over the pool. Vector
     * loads and stores: a bulk copy per head row costs more in calls than in bytes here (D is 64 or 128).
     */
    private static void tokenMajor(MemorySegment o, int len, int rows, int heads, int headDim, float[] out) {
        int parts = Math.min(len, Parallel.threads() * 4), width = heads * headDim, up = F.loopBound(headDim);
        Parallel.forEach(parts, part -> {
            for (int t = len * part / parts, end = len * (part + 1) / parts; t < end; t++) {
                int t0 = t / rows * rows, m = Math.min(rows, len - t0);
                for (int h = 0; h < heads; h++) {
                    long from = ((long) t0 * width + ((long) h * m + t - t0) * headDim) * 4;
                    int to = t * width + h * headDim, d = 0;
                    for (; d < up; d += F.length()) FloatVector.fromMemorySegment(F, o, from + d * 4L, ByteOrder.nativeOrder()).intoArray(out, to + d);
                    for (; d < headDim; d++) out[to + d] = o.get(ValueLayout.JAVA_FLOAT, from + d * 4L);
                }
            }
        });
    }

    /** probs[r, :] = bf16(softmax(scale * scores[r, :])) for the rows of every head, spread over the pool. */
    private static void softmax(MemorySegment scores, int heads, int m, int cols, float scale, MemorySegment probs) {
        int rows = heads * m, parts = Math.min(rows, Parallel.threads() * 4);
        Parallel.forEach(parts, part -> {
            float[] e = new float[cols];
            for (int r = rows * part / parts, end = rows * (part + 1) / parts; r < end; r++) {
                long row = (long) r * cols * 4;
                int up = F.loopBound(cols), i = 0;
                FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
                for (; i < up; i += F.length()) mv = mv.max(FloatVector.fromMemorySegment(F, scores, row + i * 4L, ByteOrder.nativeOrder()));
                float max = mv.reduceLanes(VectorOperators.MAX);
                for (; i < cols; i++) max = Math.max(max, scores.get(ValueLayout.JAVA_FLOAT, row + i * 4L));
                FloatVector sv = FloatVector.zero(F);
                for (i = 0; i < up; i += F.length()) {
                    FloatVector x = FloatVector.fromMemorySegment(F, scores, row + i * 4L, ByteOrder.nativeOrder());
                    FloatVector ex = VectorMath.exp(x.sub(max).mul(scale));
                    ex.intoArray(e, i);
                    sv = sv.add(ex);
                }
                float sum = VectorMath.sum(sv);
                for (; i < cols; i++) sum += e[i] = (float) Math.exp((scores.get(ValueLayout.JAVA_FLOAT, row + i * 4L) - max) * scale);
                Bf16.fromFloats(e, 0, cols, 1f / sum, probs, (long) r * cols);
            }
        });
    }
}
