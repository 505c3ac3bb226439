package fluxj.tensor.onednn;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A bf16 matmul {@code dst[m,n] (f32) = src[m,k] (bf16) x weights[k,n]} whose weights are in the layout oneDNN
 * prefers for it (format {@code any}: on AMX and AVX-512 a blocked, pair-interleaved layout), so they are packed once
 * ({@link #pack}) instead of being re-laid by the kernel on every call, as it does for plain [N,K] rows.
 */
final class DnnlPackedMatmul {
    private static final int ARG_SRC = 1, ARG_DST = 17, ARG_WEIGHTS = 33;

    final String impl;
    private final DnnlConv ops;
    private final int k, n;
    private final MemorySegment pd, prim, weightsMd, src, wei, dst, args;
    private final Arena arena = Arena.ofShared();

    /** The primitive for m rows of src (row stride k) into dst rows of stride {@code dstStride}. */
    DnnlPackedMatmul(DnnlConv ops, int m, int k, int n, long dstStride) {
        this.ops = ops;
        this.k = k;
        this.n = n;
        Dnnl dnnl = ops.dnnl;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment srcMd = dnnl.memoryDesc(a, m, k, k, 1, Dnnl.BF16);
            MemorySegment weiMd = ops.md(a, new java.util.ArrayList<>(), Dnnl.BF16, DnnlConv.TAG_ANY, k, n);
            MemorySegment dstMd = dnnl.memoryDesc(a, m, n, dstStride, 1, Dnnl.F32);
            try {
                pd = dnnl.matmulDescriptor(srcMd, weiMd, dstMd);
            } finally {
                dnnl.freeDesc(srcMd);
                dnnl.freeDesc(weiMd);
                dnnl.freeDesc(dstMd);
            }
        }
        impl = ops.impl(pd);
        weightsMd = ops.query(pd, DnnlConv.QUERY_WEIGHTS_MD, 0);
        prim = ops.primitive(pd);
        src = ops.memory(ops.query(pd, DnnlConv.QUERY_SRC_MD, 0), MemorySegment.NULL);
        wei = ops.memory(weightsMd, MemorySegment.NULL);
        dst = ops.memory(ops.query(pd, DnnlConv.QUERY_DST_MD, 0), MemorySegment.NULL);
        args = arena.allocate(48, 8);
        int[] kinds = {ARG_SRC, ARG_WEIGHTS, ARG_DST};
        MemorySegment[] mems = {src, wei, dst};
        for (int i = 0; i < 3; i++) {
            args.set(JAVA_INT, i * 16L, kinds[i]);
            args.set(ADDRESS, i * 16L + 8, mems[i]);
        }
    }

    /** Whether {@code p} is in this primitive's weight layout (it depends on k and n, and may on m). */
    boolean fits(DnnlConv.Packed p) {
        return ops.same(weightsMd, p.md());
    }

    /** The bf16 weights given as n rows of k at {@code rows} (a [N,K] tensor) reordered into this primitive's layout. */
    DnnlConv.Packed pack(MemorySegment rows) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment plain = ops.dnnl.memoryDesc(a, k, n, 1, k, Dnnl.BF16);
            try {
                return ops.pack(plain, weightsMd, rows);
            } finally {
                ops.dnnl.freeDesc(plain);
            }
        }
    }

    /** Bytes of a packed copy of the weights (padded blocks may exceed 2 k n). */
    long packedBytes() {
        return ops.size(weightsMd);
    }

    void execute(long srcAddress, DnnlConv.Packed weights, long dstAddress) {
        ops.setHandle(src, MemorySegment.ofAddress(srcAddress));
        ops.setHandle(wei, weights.buffer());
        ops.setHandle(dst, MemorySegment.ofAddress(dstAddress));
        ops.execute(prim, args);
    }

    void destroy() {
        ops.destroyPrimitive(prim, pd, src, wei, dst);
        arena.close();
    }
}
