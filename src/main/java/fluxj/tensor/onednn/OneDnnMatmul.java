package fluxj.tensor.onednn;

import fluxj.tensor.DType;
import fluxj.tensor.Epilogue;
import fluxj.tensor.MatmulKernel;
import fluxj.tensor.Parallel;
import fluxj.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The matmul backend of {@code --matmul onednn}: {@code y[M,N] = x[M,K] * w[N,K]^T + bias[N]} through oneDNN's
 * bf16 matmul (the CPU's bf16 dot products, f32 accumulation). Activations are rounded to bf16; BF16 weights are
 * used in place from their mapped file, other dtypes are narrowed to bf16 a block of rows at a time. The bias
 * and an {@link Epilogue} (GELU) are applied in f32 inside oneDNN's kernel, so the product only has to be copied
 * out; with a per-tensor scale (scaled FP8) the scale and bias are applied in f32 while copying the product out
 * and the epilogue after it. Products with few rows and
 * weights that would need narrowing go to the Java kernel, which is faster there (narrowing costs K*N per call).
 *
 * <p>Calls are serialised: oneDNN runs each one on all cores (its OpenMP team) while the Java pool waits, so the
 * two never compete for the cores.
 */
public final class OneDnnMatmul implements MatmulKernel {
    // Narrowing non-BF16 weights per call pays off from about this many rows (measured crossover 16..64 rows).
    private static final int NARROWED_MIN_ROWS = 64;
    // The bf16 copy of a non-BF16 weight is made in blocks of rows of at most this size: big enough that weights of
    // up to 3072 x 12288 go to oneDNN in one call (two calls on halves measured ~1.5 ms slower at 1024 x 3072 x 3072,
    // 5% of the call), small beside the activations.
    private static final long BLOCK_BYTES = 80L << 20;
    // Rows of x per oneDNN call: bounds the f32 product buffer (100 MB at N = 12288) at no cost in speed.
    private static final int ROW_TILE = 2048;
    private static final int CACHED_PRIMITIVES = 64;
    /** Held around every use of oneDNN's one stream and of the shared buffers (also by {@link OneDnnAttention}). */
    static final ReentrantLock LOCK = new ReentrantLock();
    private static final Map<Shape, Dnnl.Primitive> PRIMITIVES = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Shape, Dnnl.Primitive> eldest) {
            if (size() <= CACHED_PRIMITIVES) return false;
            eldest.getValue().destroy();
            return true;
        }
    };
    /** The implementations oneDNN chose for the products so far. */
    private static final Set<String> IMPLS = new TreeSet<>();
    private static final NativeBuffer SRC = new NativeBuffer(), DST = new NativeBuffer(), WEIGHTS = new NativeBuffer(),
            BIAS = new NativeBuffer();

    /** A primitive is compiled for fixed sizes, with or without a bias and the GELU post-op. */
    private record Shape(int m, int k, int n, boolean bias, boolean gelu) {}

    private final MatmulKernel small;

    /** @param small the kernel for products oneDNN does not speed up */
    public OneDnnMatmul(MatmulKernel small) {
        this.small = small;
    }

    @Override
    public String name() {
        return OneDnnLibrary.require().describe() + ", " + small.name() + " below " + NARROWED_MIN_ROWS + " rows of non-BF16 weights";
    }

    @Override
    public void matmul(float[] x, int m, int k, Tensor w, float[] bias, float[] y) {
        matmul(x, m, k, new Tensor[] {w}, new float[][] {bias}, new float[][] {y});
    }

    /** The kernel for small products, f32 throughout (oneDNN's products here are bf16 only). */
    @Override
    public MatmulKernel f32() { return small.f32(); }

    @Override
    public void matmul(float[] x, int m, int k, Tensor[] w, float[][] bias, float[][] y) {
        matmul(x, m, k, w, bias, Epilogue.none(w.length), y);
    }

    @Override
    public void matmul(float[] x, int m, int k, Tensor[] w, float[][] bias, Epilogue[] epilogue, float[][] y) {
        boolean allOneDnn = true;
        for (Tensor t : w) allOneDnn &= inPlace(t) || m >= NARROWED_MIN_ROWS;
        if (allOneDnn) {
            bf16(x, m, k, w, bias, epilogue, y);
            return;
        }
        for (int i = 0; i < w.length; i++) {
            if (inPlace(w[i]) || m >= NARROWED_MIN_ROWS) {
                bf16(x, m, k, new Tensor[] {w[i]}, new float[][] {bias[i]}, new Epilogue[] {epilogue[i]}, new float[][] {y[i]});
            } else {
                small.matmul(x, m, k, w[i], bias[i], y[i]);
                epilogue[i].apply(y[i], m, w[i].rows());
            }
        }
    }

    /** The bf16 input, one row tile of f32 output, the bias, and the bf16 block of a narrowed weight (an upper bound). */
    @Override
    public long bufferBytes(int m, int k, int n) {
        return 2L * m * k + 4L * rowTile(m) * n + 4L * n + 2L * blockRows(n, k) * k;
    }

    /** Rows per bf16 weight block: equal blocks of at most BLOCK_BYTES (at least one row). */
    private static int blockRows(int n, int k) {
        long most = Math.max(1, BLOCK_BYTES / (2L * Math.max(1, k)));
        long blocks = (n + most - 1) / most;
        return blocks == 0 ? 0 : (int) ((n + blocks - 1) / blocks);
    }

    /** Rows per oneDNN call: equal tiles of at most ROW_TILE, so one primitive shape per product and no small remainder. */
    private static int rowTile(int m) {
        int tiles = (m + ROW_TILE - 1) / ROW_TILE;
        return tiles == 0 ? 0 : (m + tiles - 1) / tiles;
    }

    /** A BF16 weight in native memory: oneDNN reads it where it is. */
    static boolean inPlace(Tensor w) {
        return w.dtype() == DType.BF16 && w.data().isNative();
    }

    /** The oneDNN product for any shape and float dtype, with the contract of {@link fluxj.tensor.Matmul#matmul}. */
    public static void bf16(float[] x, int m, int k, Tensor w, float[] bias, float[] y) {
        bf16(x, m, k, new Tensor[] {w}, new float[][] {bias}, Epilogue.none(1), new float[][] {y});
    }

    /** {@code y[i] = epilogue[i](x w[i]^T + bias[i])} for every i, x narrowed to bf16 once for all of them. */
    static void bf16(float[] x, int m, int k, Tensor[] w, float[][] bias, Epilogue[] epilogue, float[][] y) {
        for (int i = 0; i < w.length; i++) {
            if (w[i].cols() != k) throw new IllegalArgumentException("matmul: " + w[i] + " has " + w[i].cols() + " columns, input has " + k);
            if (x.length < (long) m * k || y[i].length < (long) m * w[i].rows()) throw new IllegalArgumentException("matmul: array too small");
            if (!w[i].dtype().isFloat()) throw new IllegalArgumentException("matmul: " + w[i] + " is not a float tensor");
        }
        if (m == 0) return;
        if (k == 0) {
            for (int i = 0; i < w.length; i++) {
                int n = w[i].rows();
                for (int r = 0; r < m; r++) for (int j = 0; j < n; j++) y[i][r * n + j] = bias[i] == null ? 0f : bias[i][j];
                epilogue[i].apply(y[i], m, n);
            }
            return;
        }
        Dnnl dnnl = OneDnnLibrary.require().dnnl();
        LOCK.lock();
        try {
            MemorySegment src = SRC.atLeast((long) m * k * 2);
            Bf16.fromFloatsParallel(x, (long) m * k, src);
            int tile = rowTile(m);
            for (int i = 0; i < w.length; i++) {
                if (w[i].rows() > 0) product(dnnl, src, m, k, tile, w[i], bias[i], epilogue[i], y[i]);
            }
        } finally {
            LOCK.unlock();
        }
    }

    /**
     * One weight's product for the bf16 input in src, in weight blocks (when narrowed) and row tiles. Without a
     * per-tensor scale, bias and epilogue run inside oneDNN's kernel; with one, in Java around the copy out.
     */
    private static void product(Dnnl dnnl, MemorySegment src, int m, int k, int tile, Tensor w, float[] bias, Epilogue epilogue, float[] y) {
        int n = w.rows();
        boolean inPlace = inPlace(w), fused = w.scale() == 1f;
        boolean fusedBias = fused && bias != null, gelu = fused && epilogue == Epilogue.GELU_TANH;
        int cols = inPlace ? n : blockRows(n, k);
        MemorySegment weights = inPlace ? w.data() : WEIGHTS.atLeast((long) cols * k * 2);
        MemorySegment dst = DST.atLeast((long) tile * cols * 4);
        MemorySegment biases = fusedBias ? BIAS.atLeast((long) cols * 4) : MemorySegment.NULL;
        for (int n0 = 0; n0 < n; n0 += cols) {
            int nb = Math.min(cols, n - n0);
            if (!inPlace) Bf16.fromWeightsParallel(w, n0, n0 + nb, weights);
            if (fusedBias) MemorySegment.copy(bias, n0, biases, ValueLayout.JAVA_FLOAT, 0, nb);
            for (int m0 = 0; m0 < m; m0 += tile) {
                int mt = Math.min(tile, m - m0);
                Dnnl.Primitive p = primitive(dnnl, new Shape(mt, k, nb, fusedBias, gelu));
                long at = src.address() + (long) m0 * k * 2;
                long start = System.nanoTime();
                if (fusedBias) p.execute(at, weights.address(), biases.address(), dst.address());
                else p.execute(at, weights.address(), dst.address());
                OneDnnTime.add(start, 2.0 * mt * k * nb);
                copyOut(dst, mt, nb, w.scale(), fused ? null : bias, n0, y, m0, n);
            }
        }
        if (!fused) epilogue.apply(y, m, n);
    }

    private static Dnnl.Primitive primitive(Dnnl dnnl, Shape s) {
        return PRIMITIVES.computeIfAbsent(s, key -> {
            Dnnl.Primitive made = dnnl.matmul(key.m(), key.k(), key.n(), key.bias(), key.gelu());
            IMPLS.add(made.impl);
            return made;
        });
    }

    /** The implementations oneDNN chose for the products run so far (e.g. brg:avx512_core_amx_bf16). */
    public static List<String> implementations() {
        LOCK.lock();
        try {
            return List.copyOf(IMPLS);
        } finally {
            LOCK.unlock();
        }
    }

    /** y[m0 + r, n0 + c] = dst[r, c] * scale + bias[n0 + c] for the mt x nb product in dst, rows spread over the pool. */
    static void copyOut(MemorySegment dst, int mt, int nb, float scale, float[] bias, int n0, float[] y, int m0, int n) {
        int parts = Math.min(mt, Parallel.threads() * 4);
        Parallel.forEach(parts, p -> {
            for (int r = mt * p / parts, end = mt * (p + 1) / parts; r < end; r++) {
                int o = (m0 + r) * n + n0;
                MemorySegment.copy(dst, ValueLayout.JAVA_FLOAT, (long) r * nb * 4, y, o, nb);
                if (bias != null) for (int c = 0; c < nb; c++) y[o + c] = y[o + c] * scale + bias[n0 + c];
                else if (scale != 1f) for (int c = 0; c < nb; c++) y[o + c] *= scale;
            }
        });
    }
}
