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
import java.util.Map;

/**
 * Multi-head attention {@code softmax(scale * Q K^T) V} of {@code --matmul onednn}, as PyTorch computes it in bf16
 * on the CPU: q, k and v rounded to bf16, the scores Q K^T of a head by oneDNN's bf16 matmul (f32 sums), the
 * softmax in f32 in Java, the probabilities rounded to bf16 and multiplied by V with oneDNN again. Layouts are
 * those of {@link fluxj.tensor.Attention}: q/k/v/out [L, H*D], token-major; each head's operands are read in
 * place through strided descriptors. One head's scores for a block of queries exist at a time.
 */
public final class OneDnnAttention {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final long MAX_SCORES_BYTES = 64L << 20;
    private static final int CACHED_SHAPES = 16;
    private static final Map<Shape, Dnnl.Primitive[]> PRIMITIVES = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Shape, Dnnl.Primitive[]> eldest) {
            if (size() <= CACHED_SHAPES) return false;
            for (Dnnl.Primitive p : eldest.getValue()) p.destroy();
            return true;
        }
    };
    private static final NativeBuffer Q = new NativeBuffer(), K = new NativeBuffer(), V = new NativeBuffer(),
            SCORES = new NativeBuffer(), PROBS = new NativeBuffer(), OUT = new NativeBuffer();

    private record Shape(int rows, int lk, int width, int headDim) {}

    private OneDnnAttention() {}

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
            Bf16.fromFloatsParallel(q, (long) lq * width, qs);
            Bf16.fromFloatsParallel(k, (long) lk * width, ks);
            Bf16.fromFloatsParallel(v, (long) lk * width, vs);
            int rows = queryRows(lq, lk, maxScoresBytes);
            MemorySegment scores = SCORES.atLeast((long) rows * lk * 4), probs = PROBS.atLeast((long) rows * lk * 2);
            for (int q0 = 0; q0 < lq; q0 += rows) {
                int m = Math.min(rows, lq - q0);
                Dnnl.Primitive[] p = primitives(dnnl, m, lk, width, headDim);
                for (int h = 0; h < heads; h++) {
                    long col = (long) h * headDim;
                    p[0].execute(qs.address() + ((long) q0 * width + col) * 2, ks.address() + col * 2, scores.address());
                    softmax(scores, m, lk, scale, probs);
                    p[1].execute(probs.address(), vs.address() + col * 2, o.address() + ((long) q0 * width + col) * 4);
                }
            }
            MemorySegment.copy(o, ValueLayout.JAVA_FLOAT, 0, out, 0, lq * width);
        } finally {
            OneDnnMatmul.LOCK.unlock();
        }
    }

    /** Bytes of the native buffers {@link #attention} keeps after lq queries over lk keys of {@code width} values. */
    public static long bufferBytes(int lq, int lk, int width) {
        if (lq == 0 || lk == 0) return 0;
        int rows = queryRows(lq, lk, MAX_SCORES_BYTES);
        return 2L * width * (lq + 2L * lk) + 4L * lq * width + 6L * rows * lk;
    }

    /** Query rows per block: equal blocks whose scores stay within the bound (VAE attention at 1024x1024 has 16384 keys). */
    private static int queryRows(int lq, int lk, long maxScoresBytes) {
        int blocks = (int) Math.min(lq, ((long) lq * lk * 4 - 1) / maxScoresBytes + 1);
        return (lq + blocks - 1) / blocks;
    }

    private static Dnnl.Primitive[] primitives(Dnnl dnnl, int m, int lk, int width, int headDim) {
        return PRIMITIVES.computeIfAbsent(new Shape(m, lk, width, headDim), s -> new Dnnl.Primitive[] {
                // scores[m, lk] = q_h [m, D] x k_h^T [D, lk]; k_h^T is k's head columns read down its rows.
                dnnl.matmul(m, headDim, lk, new long[] {width, 1}, new long[] {1, width}, new long[] {lk, 1}),
                // out_h [m, D] = probs [m, lk] x v_h [lk, D], written into out's head columns.
                dnnl.matmul(m, lk, headDim, new long[] {lk, 1}, new long[] {width, 1}, new long[] {width, 1})});
    }

    /** probs[r, :] = bf16(softmax(scale * scores[r, :])) for every row, rows spread over the pool. */
    private static void softmax(MemorySegment scores, int rows, int cols, float scale, MemorySegment probs) {
        int parts = Math.min(rows, Parallel.threads() * 4);
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
