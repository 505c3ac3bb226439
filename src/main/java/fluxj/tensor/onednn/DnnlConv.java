package fluxj.tensor.onednn;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

import static fluxj.tensor.onednn.Dnnl.call;
import static fluxj.tensor.onednn.Dnnl.fn;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * FFM bindings to oneDNN's 2-D convolution forward primitive and to reorders (layout and dtype conversions
 * between memory descriptors), beside {@link Dnnl}'s matmul, for oneDNN 2.x and 3.x. As for the matmul, the
 * versions differ only in how descriptors are made: 2.x fills caller-owned structs
 * ({@code dnnl_memory_desc_init_by_tag}, {@code dnnl_convolution_forward_desc_init} then
 * {@code dnnl_primitive_desc_create}), 3.x returns handles ({@code dnnl_memory_desc_create_with_tag},
 * {@code dnnl_convolution_forward_primitive_desc_create}). Primitive descriptors hand out their memory
 * descriptors as pointers in both, which is all the rest needs.
 */
final class DnnlConv {
    private static final int TAG_ANY = 1, TAG_A = 2;
    /** dnnl_abcd (plain NCHW), the same in 2.x and 3.x: tests use it to make oneDNN take a layout other than ours. */
    static final int TAG_NCHW = 5;
    private static final int FORWARD_INFERENCE = 96, CONVOLUTION_DIRECT = 1, QUERY_IMPL_INFO_STR = 8;
    private static final int QUERY_SRC_MD = 129, QUERY_WEIGHTS_MD = 131, QUERY_DST_MD = 133;
    private static final int ARG_SRC = 1, ARG_DST = 17, ARG_WEIGHTS = 33, ARG_BIAS = 41;
    // 2.x descriptor structs are caller-owned; these bounds exceed the 2.x layouts (2.6: 696 and 5976 bytes).
    private static final long V2_MEMORY_DESC_BYTES = 1024, V2_CONV_DESC_BYTES = 8192;
    /** DNNL_MEMORY_ALLOCATE: the library allocates the buffer and frees it with the memory object. */
    private static final MemorySegment ALLOCATE = MemorySegment.ofAddress(-1L);

    final Dnnl dnnl;
    /**
     * acdb's value in dnnl_format_tag_t (3.x inserted two tags before it): channels-last for a [1, C, H, W]
     * activation, tap-major (ohwi) for [Cout, Cin, kh, kw] weights.
     */
    private final int tagAcdb;
    private final MethodHandle mdInit, mdDestroy, convInit, pdCreate, convPdCreate, reorderPdCreate, queryMd, pdQuery,
            pdDestroy, mdEqual, mdSize, memoryCreate, memoryGetMd, memoryGetHandle, memorySetHandle, memoryDestroy, primitiveCreate,
            primitiveExecute, primitiveDestroy, streamWait;

    DnnlConv(Dnnl dnnl) {
        this.dnnl = dnnl;
        SymbolLookup lib = SymbolLookup.libraryLookup(dnnl.file, Arena.global());
        boolean v3 = dnnl.major == 3;
        tagAcdb = v3 ? 22 : 20;
        mdInit = fn(lib, v3 ? "dnnl_memory_desc_create_with_tag" : "dnnl_memory_desc_init_by_tag", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
        mdDestroy = v3 ? fn(lib, "dnnl_memory_desc_destroy", JAVA_INT, ADDRESS) : null;
        convInit = v3 ? null : fn(lib, "dnnl_convolution_forward_desc_init", JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        pdCreate = v3 ? null : fn(lib, "dnnl_primitive_desc_create", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        convPdCreate = v3 ? fn(lib, "dnnl_convolution_forward_primitive_desc_create", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS) : null;
        reorderPdCreate = fn(lib, "dnnl_reorder_primitive_desc_create", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        queryMd = fn(lib, "dnnl_primitive_desc_query_md", ADDRESS, ADDRESS, JAVA_INT, JAVA_INT);
        pdQuery = fn(lib, "dnnl_primitive_desc_query", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS);
        pdDestroy = fn(lib, "dnnl_primitive_desc_destroy", JAVA_INT, ADDRESS);
        mdEqual = fn(lib, "dnnl_memory_desc_equal", JAVA_INT, ADDRESS, ADDRESS);
        mdSize = fn(lib, "dnnl_memory_desc_get_size", JAVA_LONG, ADDRESS);
        memoryCreate = fn(lib, "dnnl_memory_create", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        memoryGetMd = fn(lib, "dnnl_memory_get_memory_desc", JAVA_INT, ADDRESS, ADDRESS);
        memoryGetHandle = fn(lib, "dnnl_memory_get_data_handle", JAVA_INT, ADDRESS, ADDRESS);
        memorySetHandle = fn(lib, "dnnl_memory_set_data_handle", JAVA_INT, ADDRESS, ADDRESS);
        memoryDestroy = fn(lib, "dnnl_memory_destroy", JAVA_INT, ADDRESS);
        primitiveCreate = fn(lib, "dnnl_primitive_create", JAVA_INT, ADDRESS, ADDRESS);
        primitiveExecute = fn(lib, "dnnl_primitive_execute", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS);
        primitiveDestroy = fn(lib, "dnnl_primitive_destroy", JAVA_INT, ADDRESS);
        streamWait = fn(lib, "dnnl_stream_wait", JAVA_INT, ADDRESS);
    }

    /**
     * The sizes of one convolution: a [1, cin, h, w] image, [cout, cin, kh, kw] weights (logical dims), stride, zero
     * padding; image and weights in {@code dataType} ({@link Dnnl#BF16} or {@link Dnnl#F32}).
     */
    record Shape(int cin, int cout, int kh, int kw, int h, int w, int stride, int top, int left, int bottom, int right, boolean bias,
                 int dataType) {
        int ho() { return (h + top + bottom - kh) / stride + 1; }

        /** Bytes of one value of the image and of the weights. */
        int valueBytes() { return dataType == Dnnl.F32 ? 4 : 2; }

        int wo() { return (w + left + right - kw) / stride + 1; }
    }

    /**
     * A convolution of the shape's data type (f32 bias, f32 output) in the layouts oneDNN prefers for it
     * ({@code any}), with the reorders from a channels-last source and to a channels-last f32 destination where
     * oneDNN's layouts differ (on AVX-512 it picks channels-last itself and none runs).
     */
    Convolution convolution(Shape s) {
        return convolution(s, TAG_ANY);
    }

    /** As {@link #convolution(Shape)} with oneDNN's source and destination layouts given by {@code activationTag}. */
    Convolution convolution(Shape s, int activationTag) {
        List<MemorySegment> created = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src = md(a, created, s.dataType(), activationTag, 1, s.cin(), s.h(), s.w());
            MemorySegment wei = md(a, created, s.dataType(), TAG_ANY, s.cout(), s.cin(), s.kh(), s.kw());
            MemorySegment bias = s.bias() ? md(a, created, Dnnl.F32, TAG_A, s.cout()) : MemorySegment.NULL;
            MemorySegment dst = md(a, created, Dnnl.F32, activationTag, 1, s.cout(), s.ho(), s.wo());
            MemorySegment strides = a.allocateFrom(JAVA_LONG, s.stride(), s.stride());
            MemorySegment padL = a.allocateFrom(JAVA_LONG, s.top(), s.left()), padR = a.allocateFrom(JAVA_LONG, s.bottom(), s.right());
            MemorySegment out = a.allocate(ADDRESS);
            try {
                if (dnnl.major == 2) {
                    MemorySegment op = a.allocate(V2_CONV_DESC_BYTES, 64);
                    dnnl.check("dnnl_convolution_forward_desc_init", convInit, op, FORWARD_INFERENCE, CONVOLUTION_DIRECT,
                            src, wei, bias, dst, strides, padL, padR);
                    dnnl.check("dnnl_primitive_desc_create", pdCreate, out, op, MemorySegment.NULL, dnnl.engine, MemorySegment.NULL);
                } else {
                    MemorySegment dilates = a.allocateFrom(JAVA_LONG, 0, 0);
                    dnnl.check("dnnl_convolution_forward_primitive_desc_create", convPdCreate, out, dnnl.engine, FORWARD_INFERENCE,
                            CONVOLUTION_DIRECT, src, wei, bias, dst, strides, dilates, padL, padR, MemorySegment.NULL);
                }
            } finally {
                // also when oneDNN has no such convolution (a shape then runs on the fallback for the whole process)
                for (MemorySegment md : created) free(md);
            }
            MemorySegment pd = out.get(ADDRESS, 0);
            try {
                return new Convolution(s, pd);
            } catch (RuntimeException e) {
                call(pdDestroy, pd);
                throw e;
            }
        }
    }

    /** A compiled convolution; its memory descriptors belong to its primitive descriptor, kept until destroyed. */
    final class Convolution {
        final String impl;
        /** Whether oneDNN keeps the source / destination channels-last (else a reorder from / to it runs). */
        final boolean srcChannelsLast, dstChannelsLast;
        /** Bytes of the caller's source (the shape's type) and destination (f32) buffers, and of the blocked scratch copies. */
        final long srcBytes, dstBytes, srcScratchBytes, dstScratchBytes;
        private final Shape shape;
        private final MemorySegment pd, prim, weightsMd, src, wei, bias, dst, args;
        private final Reorder srcReorder, dstReorder;
        private final Arena arena = Arena.ofShared();

        private Convolution(Shape s, MemorySegment pd) {
            shape = s;
            this.pd = pd;
            MemorySegment out = arena.allocate(ADDRESS);
            dnnl.check("dnnl_primitive_desc_query", pdQuery, pd, QUERY_IMPL_INFO_STR, 0, out);
            impl = out.get(ADDRESS, 0).reinterpret(256).getString(0);
            MemorySegment srcMd = query(pd, QUERY_SRC_MD, 0), dstMd = query(pd, QUERY_DST_MD, 0);
            weightsMd = query(pd, QUERY_WEIGHTS_MD, 0);
            try (Arena a = Arena.ofConfined()) {
                List<MemorySegment> created = new ArrayList<>();
                MemorySegment srcNhwc = md(a, created, s.dataType(), tagAcdb, 1, s.cin(), s.h(), s.w());
                MemorySegment dstNhwc = md(a, created, Dnnl.F32, tagAcdb, 1, s.cout(), s.ho(), s.wo());
                srcChannelsLast = (int) call(mdEqual, srcMd, srcNhwc) != 0;
                dstChannelsLast = (int) call(mdEqual, dstMd, dstNhwc) != 0;
                srcReorder = srcChannelsLast ? null : new Reorder(srcNhwc, srcMd);
                dstReorder = dstChannelsLast ? null : new Reorder(dstMd, dstNhwc);
                for (MemorySegment md : created) free(md);
            }
            srcBytes = (long) s.valueBytes() * s.cin() * s.h() * s.w();
            dstBytes = 4L * s.cout() * s.ho() * s.wo();
            srcScratchBytes = srcReorder == null ? 0 : size(srcMd);
            dstScratchBytes = dstReorder == null ? 0 : size(dstMd);
            dnnl.check("dnnl_primitive_create", primitiveCreate, out, pd);
            prim = out.get(ADDRESS, 0);
            src = memory(srcMd, MemorySegment.NULL);
            wei = memory(weightsMd, MemorySegment.NULL);
            dst = memory(dstMd, MemorySegment.NULL);
            bias = s.bias() ? memory(query(pd, QUERY_WEIGHTS_MD, 1), MemorySegment.NULL) : null;
            args = arena.allocate(16L * (s.bias() ? 4 : 3), 8);
            arg(0, ARG_SRC, src);
            arg(1, ARG_WEIGHTS, wei);
            arg(2, ARG_DST, dst);
            if (bias != null) arg(3, ARG_BIAS, bias);
        }

        private void arg(int i, int kind, MemorySegment memory) {
            // dnnl_exec_arg_t is {int arg; dnnl_memory_t memory;}: 16 bytes on every 64-bit ABI.
            args.set(JAVA_INT, i * 16L, kind);
            args.set(ADDRESS, i * 16L + 8, memory);
        }

        /**
         * Runs the convolution and waits for it. {@code src} holds the image channels-last ([h*w, cin]) in the shape's type;
         * {@code dst} receives the f32 output channels-last ([ho*wo, cout]). The scratch
         * buffers (srcScratchBytes, dstScratchBytes) hold the blocked copies when reorders run. {@code bias} holds
         * cout floats when the convolution has a bias.
         */
        void execute(MemorySegment src, Packed weights, MemorySegment bias, MemorySegment dst, MemorySegment srcScratch, MemorySegment dstScratch) {
            if (!fits(weights)) throw new IllegalStateException("oneDNN: packed weights do not match the layout of " + shape);
            MemorySegment convSrc = src;
            if (srcReorder != null) {
                srcReorder.execute(src, srcScratch);
                convSrc = srcScratch;
            }
            setHandle(this.src, convSrc);
            setHandle(this.dst, dstReorder == null ? dst : dstScratch);
            setHandle(wei, weights.buffer());
            if (this.bias != null) setHandle(this.bias, bias);
            dnnl.check("dnnl_primitive_execute", primitiveExecute, prim, dnnl.stream, (int) (args.byteSize() / 16), args);
            dnnl.check("dnnl_stream_wait", streamWait, dnnl.stream);
            if (dstReorder != null) dstReorder.execute(dstScratch, dst);
        }

        /** Bytes of one value of its image and weights. */
        int valueBytes() { return shape.valueBytes(); }

        /** Whether {@code p} was packed in this convolution's weight layout. */
        boolean fits(Packed p) {
            return (int) call(mdEqual, weightsMd, p.md()) != 0;
        }

        /**
         * The weights given tap-major [cout, kh, kw, cin] in the shape's type at {@code ohwi} (row-major, any alignment)
         * reordered once into this convolution's layout, in a buffer oneDNN allocates and frees with {@link DnnlConv#free(Packed)}.
         */
        Packed packWeights(MemorySegment ohwi) {
            try (Arena a = Arena.ofConfined()) {
                List<MemorySegment> created = new ArrayList<>();
                Reorder r = new Reorder(md(a, created, shape.dataType(), tagAcdb, shape.cout(), shape.cin(), shape.kh(), shape.kw()), weightsMd);
                for (MemorySegment md : created) free(md);
                MemorySegment packed = memory(weightsMd, ALLOCATE), out = a.allocate(ADDRESS);
                dnnl.check("dnnl_memory_get_data_handle", memoryGetHandle, packed, out);
                MemorySegment buffer = out.get(ADDRESS, 0);
                try {
                    r.execute(ohwi, buffer);
                } catch (RuntimeException e) {
                    call(memoryDestroy, packed);
                    throw e;
                } finally {
                    r.destroy();
                }
                dnnl.check("dnnl_memory_get_memory_desc", memoryGetMd, packed, out);
                return new Packed(packed, buffer, out.get(ADDRESS, 0));
            }
        }

        void destroy() {
            if (srcReorder != null) srcReorder.destroy();
            if (dstReorder != null) dstReorder.destroy();
            call(primitiveDestroy, prim);
            for (MemorySegment m : new MemorySegment[] {src, wei, dst, bias}) if (m != null) call(memoryDestroy, m);
            call(pdDestroy, pd);
            arena.close();
        }
    }

    /** Weights in a convolution's layout: the memory object owning the buffer, and its descriptor. */
    record Packed(MemorySegment memory, MemorySegment buffer, MemorySegment md) {}

    /** Frees packed weights (callable from a cleaner: touches nothing but the library). */
    void free(Packed p) {
        call(memoryDestroy, p.memory());
    }

    /** A compiled reorder between two descriptors (copied by oneDNN), buffers given per execution. */
    private final class Reorder {
        private final MemorySegment pd, prim, from, to, args;
        private final Arena arena = Arena.ofShared();

        Reorder(MemorySegment fromMd, MemorySegment toMd) {
            MemorySegment out = arena.allocate(ADDRESS);
            dnnl.check("dnnl_reorder_primitive_desc_create", reorderPdCreate, out, fromMd, dnnl.engine, toMd, dnnl.engine, MemorySegment.NULL);
            pd = out.get(ADDRESS, 0);
            dnnl.check("dnnl_primitive_create", primitiveCreate, out, pd);
            prim = out.get(ADDRESS, 0);
            from = memory(fromMd, MemorySegment.NULL);
            to = memory(toMd, MemorySegment.NULL);
            args = arena.allocate(32, 8);
            args.set(JAVA_INT, 0, ARG_SRC);
            args.set(ADDRESS, 8, from);
            args.set(JAVA_INT, 16, ARG_DST);
            args.set(ADDRESS, 24, to);
        }

        void execute(MemorySegment src, MemorySegment dst) {
            setHandle(from, src);
            setHandle(to, dst);
            dnnl.check("dnnl_primitive_execute", primitiveExecute, prim, dnnl.stream, 2, args);
            dnnl.check("dnnl_stream_wait", streamWait, dnnl.stream);
        }

        void destroy() {
            call(primitiveDestroy, prim);
            call(memoryDestroy, from);
            call(memoryDestroy, to);
            call(pdDestroy, pd);
            arena.close();
        }
    }

    /** A descriptor by format tag; 3.x handles are added to {@code created} for {@link #free(MemorySegment)}. */
    private MemorySegment md(Arena a, List<MemorySegment> created, int dataType, int tag, long... dims) {
        MemorySegment d = a.allocateFrom(JAVA_LONG, dims);
        if (dnnl.major == 2) {
            MemorySegment md = a.allocate(V2_MEMORY_DESC_BYTES, 64);
            dnnl.check("dnnl_memory_desc_init_by_tag", mdInit, md, dims.length, d, dataType, tag);
            return md;
        }
        MemorySegment out = a.allocate(ADDRESS);
        dnnl.check("dnnl_memory_desc_create_with_tag", mdInit, out, dims.length, d, dataType, tag);
        MemorySegment md = out.get(ADDRESS, 0);
        created.add(md);
        return md;
    }

    private void free(MemorySegment md) {
        dnnl.check("dnnl_memory_desc_destroy", mdDestroy, md);
    }

    private MemorySegment query(MemorySegment pd, int what, int index) {
        MemorySegment md = (MemorySegment) call(queryMd, pd, what, index);
        if (md.equals(MemorySegment.NULL)) throw new IllegalStateException("oneDNN: primitive descriptor has no memory descriptor " + what + "/" + index);
        return md;
    }

    private long size(MemorySegment md) {
        return (long) call(mdSize, md);
    }

    private MemorySegment memory(MemorySegment md, MemorySegment handle) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            dnnl.check("dnnl_memory_create", memoryCreate, out, md, dnnl.engine, handle);
            return out.get(ADDRESS, 0);
        }
    }

    private void setHandle(MemorySegment memory, MemorySegment buffer) {
        dnnl.check("dnnl_memory_set_data_handle", memorySetHandle, memory, buffer);
    }
}
