package fluxj.tensor.onednn;

import fluxj.tensor.ChannelsLast;
import fluxj.tensor.Conv2d;
import fluxj.tensor.ConvInput;
import fluxj.tensor.ConvKernel;
import fluxj.tensor.Parallel;
import fluxj.tensor.Tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The convolution backend of {@code --matmul onednn}: oneDNN's bf16 convolution (bf16 image and weights, f32
 * accumulation, bias and output), as PyTorch runs a bf16 VAE on the CPU, on {@link Conv2d}'s layouts: channels-last
 * activations and tap-major weights ([Cout, kh, kw, Cin], oneDNN's ohwi). oneDNN picks its layouts ({@code any});
 * on AVX-512 it keeps activations channels-last too, so the image is only rounded to bf16 on the way in and the
 * output copied out; other layouts go through oneDNN reorders. Weights are reordered into the primitive's layout
 * once per tensor and kept until the model releases the weight ({@link #release}; a cleaner frees them if the tensor
 * becomes unreachable first). Weights with a per-tensor scale take the fallback (im2col on the matmul backend in
 * use). {@link #f32()} is the same convolution in f32 (image and weights): the VAE encoder's, whose bf16 error
 * would go straight into the latent an image-conditioned generation keeps.
 *
 * <p>Calls are serialised, as for {@link OneDnnMatmul}: oneDNN runs each on all cores while the Java pool waits.
 */
public final class OneDnnConv implements ConvKernel {
    private static final int CACHED_PRIMITIVES = 64;
    /** Pixel ranges an output's moments are summed over ({@link #collect}), and pixels per f32 run within them. */
    private static final int MOMENT_CHUNKS = 64, RUN = 256;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final System.Logger LOG = System.getLogger(OneDnnConv.class.getName());
    // oneDNN work of every kind runs on one shared stream, so convolutions, matmuls and attention take one lock.
    private static final ReentrantLock LOCK = OneDnnMatmul.LOCK;
    private static final Cleaner CLEANER = Cleaner.create();
    private static final Map<DnnlConv.Shape, DnnlConv.Convolution> PRIMITIVES = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<DnnlConv.Shape, DnnlConv.Convolution> eldest) {
            if (size() <= CACHED_PRIMITIVES) return false;
            eldest.getValue().destroy();
            return true;
        }
    };
    /**
     * Packed weights per weight tensor (one per weight layout a primitive asked for, normally one), by identity:
     * tensors compare by name and file, which two models built in memory can share.
     */
    private static final Map<WeightKey, Packing> PACKED = new HashMap<>();

    /** A weight's packed copies (one per primitive layout) and the action that frees them. */
    private record Packing(List<DnnlConv.Packed> list, Cleaner.Cleanable cleanable) {}
    private static final ReferenceQueue<Tensor> RELEASED = new ReferenceQueue<>();
    private static final NativeBuffer SRC = new NativeBuffer(), DST = new NativeBuffer(), SRC_SCRATCH = new NativeBuffer(), DST_SCRATCH = new NativeBuffer(),
            BIAS = new NativeBuffer(), STAGING = new NativeBuffer();

    /** Convolutions oneDNN could not make. */
    private static final Set<DnnlConv.Shape> UNSUPPORTED = new HashSet<>();

    private static final class Holder {
        /** The bindings, or null when this library lacks them (a broken library leaves the Java path running). */
        static final DnnlConv BINDINGS = bindings();

        private static DnnlConv bindings() {
            try {
                return new DnnlConv(OneDnnLibrary.require().dnnl());
            } catch (RuntimeException | LinkageError e) {
                LOG.log(System.Logger.Level.WARNING, "oneDNN convolution unavailable (" + e.getMessage() + "); convolutions run on the Java path");
                return null;
            }
        }
    }

    private final ConvKernel fallback;
    /** Whether image and weights go to oneDNN in f32 (else bf16). */
    private final boolean f32;

    /** @param fallback the kernel for weights with a per-tensor scale and shapes oneDNN has no convolution for */
    public OneDnnConv(ConvKernel fallback) {
        this(fallback, false);
    }

    private OneDnnConv(ConvKernel fallback, boolean f32) {
        this.fallback = fallback;
        this.f32 = f32;
    }

    @Override
    public ConvKernel f32() { return f32 ? this : new OneDnnConv(fallback.f32(), true); }

    /** Bytes of one value of the image and weights this convolution hands oneDNN (2 for bf16, 4 for f32). */
    public int valueBytes() { return f32 ? 4 : 2; }

    /** Whether this oneDNN library has the convolution functions (a library without them leaves im2col running). */
    public static boolean available() { return Holder.BINDINGS != null; }

    @Override
    public String name() {
        OneDnnLibrary.Loaded l = OneDnnLibrary.require();
        String threads = l.dnnl().ompThreads == 0 ? "" : ", " + l.dnnl().ompThreads + " OpenMP threads";
        return "oneDNN " + l.version() + (f32 ? " f32" : " bf16") + " convolution (" + l.file() + threads + ")";
    }

    /** The implementations oneDNN chose for the convolutions run so far (e.g. brgconv:avx512_core_bf16). */
    public static List<String> implementations() {
        LOCK.lock();
        try {
            TreeSet<String> s = new TreeSet<>();
            PRIMITIVES.values().forEach(c -> s.add(c.impl));
            return List.copyOf(s);
        } finally {
            LOCK.unlock();
        }
    }

    @Override
    public void conv2d(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Conv2d.Padding pad, float[] out) {
        if (!run(ConvInput.of(x, weight.dim(-1)), h, w, weight, bias, stride, pad, out, null, null)) fallback.conv2d(x, h, w, weight, bias, stride, pad, out);
    }

    @Override
    public boolean fusesInput() { return Holder.BINDINGS != null; }

    /**
     * The input's GroupNorm map, SiLU and upsample are applied as it is rounded to bf16 into oneDNN's source
     * buffer, and the skip and moments as the output is copied out: besides the convolution, one pass reads the
     * input and one writes the output.
     */
    @Override
    public void conv2d(ConvInput in, int h, int w, Tensor weight, float[] bias, int stride, Conv2d.Padding pad, float[] out,
                       float[] skip, ChannelsLast.Moments moments) {
        if (!run(in, h, w, weight, bias, stride, pad, out, skip, moments)) ConvKernel.materialized(fallback, in, h, w, weight, bias, stride, pad, out, skip, moments);
    }

    /** The convolution through oneDNN; false when it must take the fallback (scaled weights, a shape oneDNN lacks). */
    private boolean run(ConvInput in, int h, int w, Tensor weight, float[] bias, int stride, Conv2d.Padding pad, float[] out,
                        float[] skip, ChannelsLast.Moments moments) {
        DnnlConv bindings = Holder.BINDINGS;
        if (weight.scale() != 1f || bindings == null) return false;
        int cout = weight.dim(0), cin = weight.dim(-1);
        int kh = weight.rank() == 4 ? weight.dim(1) : 1, kw = weight.rank() == 4 ? weight.dim(2) : 1;
        DnnlConv.Shape s = new DnnlConv.Shape(cin, cout, kh, kw, h, w, stride, pad.top(), pad.left(), pad.bottom(), pad.right(), bias != null,
                f32 ? Dnnl.F32 : Dnnl.BF16);
        LOCK.lock();
        try {
            DnnlConv.Convolution c = primitive(bindings, s);
            if (c == null) return false;
            DnnlConv.Packed packed = packed(bindings, c, weight);
            MemorySegment src = SRC.atLeast(c.srcBytes), dst = DST.atLeast(c.dstBytes);
            if (f32) F32.fromInputParallel(in, h, w, src);
            else Bf16.fromInputParallel(in, h, w, src);
            MemorySegment b = bias == null ? MemorySegment.NULL : BIAS.atLeast(4L * cout);
            if (bias != null) MemorySegment.copy(bias, 0, b, F32_LE, 0, cout);
            long start = System.nanoTime();
            c.execute(src, packed, b, dst, SRC_SCRATCH.atLeast(c.srcScratchBytes), DST_SCRATCH.atLeast(c.dstScratchBytes));
            int pixels = s.ho() * s.wo();
            OneDnnTime.add(start, 2.0 * cout * cin * kh * kw * pixels);
            if (skip == null && moments == null) fromF32(dst, (long) pixels * cout, out);
            else collect(dst, pixels, cout, out, skip, moments);
            return true;
        } finally {
            LOCK.unlock();
            // The packed copy is freed once the tensor is unreachable: not before oneDNN is done with it.
            Reference.reachabilityFence(weight);
        }
    }

    /** The compiled convolution for {@code s}, or null when oneDNN has none (that shape then runs on the fallback). */
    private DnnlConv.Convolution primitive(DnnlConv bindings, DnnlConv.Shape s) {
        if (UNSUPPORTED.contains(s)) return null;
        DnnlConv.Convolution c = PRIMITIVES.get(s);
        if (c != null) return c;
        try {
            DnnlConv.Convolution made = bindings.convolution(s);
            LOG.log(System.Logger.Level.DEBUG, () -> "oneDNN convolution " + s + ": " + made.impl + ", source "
                    + (made.srcChannelsLast ? "channels-last" : "reordered") + ", destination " + (made.dstChannelsLast ? "channels-last" : "reordered"));
            PRIMITIVES.put(s, made);
            return made;
        } catch (Dnnl.Failure e) {
            // Only "no such convolution" sends a shape to the fallback for good; out of memory and the like are errors.
            if (!e.unsupported()) throw e;
            LOG.log(System.Logger.Level.WARNING, "oneDNN has no convolution " + s + " (" + e.getMessage() + "); it runs on " + fallback.name());
            UNSUPPORTED.add(s);
            return null;
        }
    }

    /** Frees the copies packed for {@code weight} now (its model is releasing it); nothing if none were made. */
    public static void release(Tensor weight) {
        LOCK.lock();
        try {
            Packing p = PACKED.remove(new WeightKey(weight, null));
            if (p != null) p.cleanable().clean();
        } finally {
            LOCK.unlock();
        }
    }

    /** The weights packed for {@code c}, packing them on first use. */
    private static DnnlConv.Packed packed(DnnlConv bindings, DnnlConv.Convolution c, Tensor weight) {
        for (Reference<? extends Tensor> r; (r = RELEASED.poll()) != null; ) PACKED.remove(r);
        Packing packing = PACKED.get(new WeightKey(weight, null));
        if (packing == null) {
            List<DnnlConv.Packed> fresh = new ArrayList<>();
            // The native copies go when the model releases the weight (release) or, failing that, when the tensor
            // becomes unreachable; the action holds the list only, and runs once either way.
            Cleaner.Cleanable cleanable = CLEANER.register(weight, () -> {
                LOCK.lock();
                try {
                    fresh.forEach(bindings::free);
                } finally {
                    LOCK.unlock();
                }
            });
            packing = new Packing(fresh, cleanable);
            PACKED.put(new WeightKey(weight, RELEASED), packing);
        }
        List<DnnlConv.Packed> list = packing.list();
        for (DnnlConv.Packed p : list) if (c.fits(p)) return p;
        MemorySegment ohwi;
        if (c.valueBytes() == 4) {
            ohwi = STAGING.atLeast(4L * weight.numel());
            F32.fromWeights(weight, ohwi);
        } else if (OneDnnMatmul.inPlace(weight)) {
            ohwi = weight.data();
        } else {
            int rows = weight.rows();
            long rowBytes = 2L * weight.cols();
            ohwi = STAGING.atLeast(rows * rowBytes);
            Bf16.fromWeightsParallel(weight, 0, rows, ohwi);
        }
        DnnlConv.Packed p = c.packWeights(ohwi);
        list.add(p);
        return p;
    }

    /** in[0, n) (f32) copied into y, in chunks across the pool. */
    static void fromF32(MemorySegment in, long n, float[] y) {
        int chunks = (int) Math.min(Parallel.threads() * 4L, (n + 65535) / 65536);
        Parallel.forEach(chunks, c -> {
            long from = n * c / chunks, to = n * (c + 1) / chunks;
            MemorySegment.copy(in, F32_LE, from * 4, y, (int) from, (int) (to - from));
        });
    }

    /**
     * dst [pixels, c] (f32) plus skip (when not null) into out, the per-channel sums and sums of squares of the
     * result added to {@code moments} (when not null): f32 runs of {@value #RUN} pixels added in double, over a
     * fixed number of chunks added in order, so the result does not depend on the thread count.
     */
    static void collect(MemorySegment dst, int pixels, int c, float[] out, float[] skip, ChannelsLast.Moments moments) {
        int chunks = Math.max(1, Math.min(pixels, MOMENT_CHUNKS)), up = F.loopBound(c);
        double[][] sums = new double[chunks][], squares = new double[chunks][];
        Parallel.forEach(chunks, ch -> {
            int p0 = (int) ((long) ch * pixels / chunks), p1 = (int) ((long) (ch + 1) * pixels / chunks);
            double[] s = new double[c], q = new double[c];
            float[] rs = new float[c], rq = new float[c];
            for (int r0 = p0; r0 < p1; r0 += RUN) {
                for (int p = r0, r1 = Math.min(p1, r0 + RUN); p < r1; p++) {
                    int o = p * c, i = 0;
                    for (; i < up; i += F.length()) {
                        FloatVector v = FloatVector.fromMemorySegment(F, dst, 4L * (o + i), ByteOrder.LITTLE_ENDIAN);
                        if (skip != null) v = v.add(FloatVector.fromArray(F, skip, o + i));
                        v.intoArray(out, o + i);
                        if (moments != null) {
                            v.add(FloatVector.fromArray(F, rs, i)).intoArray(rs, i);
                            v.fma(v, FloatVector.fromArray(F, rq, i)).intoArray(rq, i);
                        }
                    }
                    for (; i < c; i++) {
                        float v = dst.get(F32_LE, 4L * (o + i)) + (skip == null ? 0f : skip[o + i]);
                        out[o + i] = v;
                        rs[i] += v;
                        rq[i] += v * v;
                    }
                }
                if (moments == null) continue;
                for (int i = 0; i < c; i++) {
                    s[i] += rs[i];
                    q[i] += rq[i];
                }
                Arrays.fill(rs, 0f);
                Arrays.fill(rq, 0f);
            }
            sums[ch] = s;
            squares[ch] = q;
        });
        if (moments == null) return;
        for (int ch = 0; ch < chunks; ch++) moments.add(sums[ch], squares[ch], (long) (ch + 1) * pixels / chunks - (long) ch * pixels / chunks);
    }

    /** A weight tensor by identity, not keeping it reachable. */
    private static final class WeightKey extends WeakReference<Tensor> {
        private final int hash;

        WeightKey(Tensor t, ReferenceQueue<Tensor> queue) {
            super(t, queue);
            hash = System.identityHashCode(t);
        }

        @Override
        public boolean equals(Object o) {
            // A released key equals only itself, so the queue can remove it.
            return o == this || o instanceof WeightKey k && k.hash == hash && get() != null && k.get() == get();
        }

        @Override
        public int hashCode() { return hash; }
    }
}
