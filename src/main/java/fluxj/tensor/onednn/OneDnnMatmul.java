package fluxj.tensor.onednn;

import fluxj.tensor.DType;
import fluxj.tensor.Parallel;
import fluxj.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code y[M,N] = x[M,K] * w[N,K]^T + bias[N]} through oneDNN's bf16 matmul (the CPU's bf16 dot products,
 * f32 accumulation), the contract of {@link fluxj.tensor.Matmul#matmul}. Activations are rounded to bf16;
 * BF16 weights are used in place from their mapped file, other dtypes are narrowed to bf16 a block of rows at a
 * time. The per-tensor scale and the bias are applied in f32 while copying the product out.
 *
 * <p>Calls are serialised: oneDNN runs each one on all cores (its OpenMP team) while the Java pool waits, so the
 * two never compete for the cores.
 */
public final class OneDnnMatmul {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    // Weight blocks of about this many rows bound the bf16 copy of non-BF16 weights (12 MB at K = 3072).
    private static final int BLOCK_ROWS = 2048;
    private static final int CACHED_PRIMITIVES = 32;
    private static final ReentrantLock LOCK = new ReentrantLock();
    private static final Map<Shape, Dnnl.Primitive> PRIMITIVES = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Shape, Dnnl.Primitive> eldest) {
            if (size() <= CACHED_PRIMITIVES) return false;
            eldest.getValue().destroy();
            return true;
        }
    };
    private static final Buffer SRC = new Buffer(), DST = new Buffer(), WEIGHTS = new Buffer();

    /** A primitive is compiled for fixed sizes and destination row stride. */
    private record Shape(int m, int k, int n, int ldd) {}

    private OneDnnMatmul() {}

    public static void matmul(float[] x, int m, int k, Tensor w, float[] bias, float[] y) {
        int n = w.rows();
        if (w.cols() != k) throw new IllegalArgumentException("matmul: " + w + " has " + w.cols() + " columns, input has " + k);
        if (x.length < (long) m * k || y.length < (long) m * n) throw new IllegalArgumentException("matmul: array too small");
        if (!w.dtype().isFloat()) throw new IllegalArgumentException("matmul: " + w + " is not a float tensor");
        if (m == 0 || n == 0) return;
        Dnnl dnnl = OneDnnLibrary.require().dnnl();
        LOCK.lock();
        try {
            MemorySegment src = SRC.atLeast((long) m * k * 2);
            MemorySegment dst = DST.atLeast((long) m * n * 4);
            toBf16(x, m, k, src);
            if (w.dtype() == DType.BF16 && w.data().isNative()) {
                primitive(dnnl, new Shape(m, k, n, n)).execute(src.address(), w.data().address(), dst.address());
            } else {
                int blocks = (n + BLOCK_ROWS - 1) / BLOCK_ROWS, rows = (n + blocks - 1) / blocks;
                MemorySegment panel = WEIGHTS.atLeast((long) rows * k * 2);
                for (int n0 = 0; n0 < n; n0 += rows) {
                    int n1 = Math.min(n, n0 + rows);
                    weightsToBf16(w, n0, n1, panel);
                    primitive(dnnl, new Shape(m, k, n1 - n0, n)).execute(src.address(), panel.address(), dst.address() + n0 * 4L);
                }
            }
            copyOut(dst, m, n, w.scale(), bias, y);
        } finally {
            LOCK.unlock();
        }
    }

    private static Dnnl.Primitive primitive(Dnnl dnnl, Shape s) {
        return PRIMITIVES.computeIfAbsent(s, key -> dnnl.matmul(key.m(), key.k(), key.n(), key.ldd()));
    }

    private static void toBf16(float[] x, int m, int k, MemorySegment out) {
        long total = (long) m * k;
        int chunks = (int) Math.min(Parallel.threads() * 4L, (total + 65535) / 65536);
        Parallel.forEach(chunks, c -> {
            int from = (int) (total * c / chunks), to = (int) (total * (c + 1) / chunks);
            Bf16.fromFloats(x, from, to - from, out, from);
        });
    }

    private static void weightsToBf16(Tensor w, int r0, int r1, MemorySegment out) {
        int chunks = Math.min(Parallel.threads() * 4, r1 - r0);
        long rowBytes = (long) w.cols() * 2;
        Parallel.forEach(chunks, c -> {
            int a = r0 + (r1 - r0) * c / chunks, b = r0 + (r1 - r0) * (c + 1) / chunks;
            Bf16.fromWeights(w, a, b, out.asSlice((a - r0) * rowBytes, (b - a) * rowBytes));
        });
    }

    /** y = dst * scale + bias, row by row over the pool. */
    private static void copyOut(MemorySegment dst, int m, int n, float scale, float[] bias, float[] y) {
        if (scale == 1f && bias == null) {
            MemorySegment.copy(dst, ValueLayout.JAVA_FLOAT, 0, y, 0, m * n);
            return;
        }
        int parts = Math.min(m, Parallel.threads() * 4);
        Parallel.forEach(parts, c -> {
            int r0 = (int) ((long) m * c / parts), r1 = (int) ((long) m * (c + 1) / parts);
            for (int r = r0; r < r1; r++) {
                int o = r * n, j = 0;
                for (int up = F.loopBound(n); j < up; j += F.length()) {
                    FloatVector v = FloatVector.fromMemorySegment(F, dst, (long) (o + j) * 4, ByteOrder.nativeOrder()).mul(scale);
                    (bias == null ? v : v.add(FloatVector.fromArray(F, bias, j))).intoArray(y, o + j);
                }
                for (; j < n; j++) y[o + j] = dst.getAtIndex(ValueLayout.JAVA_FLOAT, o + j) * scale + (bias == null ? 0f : bias[j]);
            }
        });
    }

    /** A native buffer that only grows, reused across calls (only touched under the lock). */
    private static final class Buffer {
        private Arena arena;
        private MemorySegment segment = MemorySegment.NULL;

        MemorySegment atLeast(long bytes) {
            if (segment.byteSize() < bytes) {
                if (arena != null) arena.close();
                arena = Arena.ofShared();
                segment = arena.allocate(bytes, 64);
            }
            return segment;
        }
    }
}
