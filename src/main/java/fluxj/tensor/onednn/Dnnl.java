package fluxj.tensor.onednn;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * FFM bindings to the few functions of oneDNN's C API (dnnl.h) that a 2-D matmul needs, for oneDNN 2.x and 3.x.
 * The two major versions differ only in how descriptors are made: 2.x fills caller-owned structs
 * ({@code dnnl_memory_desc_init_by_strides}, {@code dnnl_matmul_desc_init}, {@code dnnl_primitive_desc_create}),
 * 3.x returns opaque handles ({@code dnnl_memory_desc_create_with_strides},
 * {@code dnnl_matmul_primitive_desc_create}). Engine, stream, memory and execution calls are the same.
 */
final class Dnnl {
    static final int BF16 = 2, F32 = 3;
    private static final int ENGINE_CPU = 1, STREAM_IN_ORDER = 1, QUERY_IMPL_INFO_STR = 8, QUERY_WEIGHTS_MD = 131, FORMAT_ANY = 1;
    private static final int ARG_SRC = 1, ARG_DST = 17, ARG_WEIGHTS = 33;
    // 2.x passes descriptors as structs owned by the caller; these bounds exceed every 2.x layout (2.6: 696, 2800).
    private static final long V2_MEMORY_DESC_BYTES = 1024, V2_MATMUL_DESC_BYTES = 4096;
    // The exact size of 2.x's dnnl_memory_desc_t, stable over 2.x: a queried descriptor is copied out of its owner.
    private static final long V2_MEMORY_DESC_SIZE = 696;
    private static final String[] STATUS = {"success", "out of memory", "invalid arguments", "unimplemented",
            "last implementation reached", "runtime error", "not required", "invalid graph", "invalid graph op",
            "invalid shape", "invalid data type"};

    /** The library file as it was opened, and its version "major.minor.patch". */
    final String file, version;
    final int major;
    /** OpenMP's thread count for oneDNN's parallel regions, or 0 when oneDNN is not built on OpenMP. */
    final int ompThreads;
    private final MemorySegment engine, stream;
    private final MethodHandle primitiveCreate, primitiveExecute, primitiveDestroy, pdQuery, pdDestroy,
            memoryCreate, memorySetHandle, memoryDestroy, streamWait, effectiveIsa, pdQueryMd, mdSize, mdEqual, reorderPdCreate;
    private final MethodHandle v2MdInit, v2MdInitByTag, v2MatmulInit, v2PdCreate, v3MdCreate, v3MdCreateByTag, v3MdClone,
            v3MdDestroy, v3MatmulPdCreate;

    private Dnnl(SymbolLookup lib, String file) {
        this.file = file;
        MemorySegment v = ((MemorySegment) call(fn(lib, "dnnl_version", ADDRESS))).reinterpret(12);
        major = v.get(JAVA_INT, 0);
        version = major + "." + v.get(JAVA_INT, 4) + "." + v.get(JAVA_INT, 8);
        if (major != 2 && major != 3) throw new IllegalStateException(file + " is oneDNN " + version + "; fluxj supports 2.x and 3.x");
        primitiveCreate = fn(lib, "dnnl_primitive_create", JAVA_INT, ADDRESS, ADDRESS);
        primitiveExecute = fn(lib, "dnnl_primitive_execute", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS);
        primitiveDestroy = fn(lib, "dnnl_primitive_destroy", JAVA_INT, ADDRESS);
        pdQuery = fn(lib, "dnnl_primitive_desc_query", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS);
        pdDestroy = fn(lib, "dnnl_primitive_desc_destroy", JAVA_INT, ADDRESS);
        memoryCreate = fn(lib, "dnnl_memory_create", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        memorySetHandle = fn(lib, "dnnl_memory_set_data_handle", JAVA_INT, ADDRESS, ADDRESS);
        memoryDestroy = fn(lib, "dnnl_memory_destroy", JAVA_INT, ADDRESS);
        streamWait = fn(lib, "dnnl_stream_wait", JAVA_INT, ADDRESS);
        effectiveIsa = fn(lib, "dnnl_get_effective_cpu_isa", JAVA_INT);
        pdQueryMd = fn(lib, "dnnl_primitive_desc_query_md", ADDRESS, ADDRESS, JAVA_INT, JAVA_INT);
        mdSize = fn(lib, "dnnl_memory_desc_get_size", JAVA_LONG, ADDRESS);
        mdEqual = fn(lib, "dnnl_memory_desc_equal", JAVA_INT, ADDRESS, ADDRESS);
        reorderPdCreate = fn(lib, "dnnl_reorder_primitive_desc_create", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        // The lookup sees the library's dependencies too, so an OpenMP build answers with its runtime's setting.
        ompThreads = lib.find("omp_get_max_threads")
                .map(f -> (int) call(Linker.nativeLinker().downcallHandle(f, FunctionDescriptor.of(JAVA_INT)))).orElse(0);
        boolean v3 = major == 3;
        v2MdInit = v3 ? null : fn(lib, "dnnl_memory_desc_init_by_strides", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS);
        v2MdInitByTag = v3 ? null : fn(lib, "dnnl_memory_desc_init_by_tag", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
        v2MatmulInit = v3 ? null : fn(lib, "dnnl_matmul_desc_init", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        v2PdCreate = v3 ? null : fn(lib, "dnnl_primitive_desc_create", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        v3MdCreate = v3 ? fn(lib, "dnnl_memory_desc_create_with_strides", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS) : null;
        v3MdCreateByTag = v3 ? fn(lib, "dnnl_memory_desc_create_with_tag", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT) : null;
        v3MdClone = v3 ? fn(lib, "dnnl_memory_desc_clone", JAVA_INT, ADDRESS, ADDRESS) : null;
        v3MdDestroy = v3 ? fn(lib, "dnnl_memory_desc_destroy", JAVA_INT, ADDRESS) : null;
        v3MatmulPdCreate = v3 ? fn(lib, "dnnl_matmul_primitive_desc_create", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS) : null;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check("dnnl_engine_create", fn(lib, "dnnl_engine_create", JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG), out, ENGINE_CPU, 0L);
            engine = out.get(ADDRESS, 0);
            check("dnnl_stream_create", fn(lib, "dnnl_stream_create", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), out, engine, STREAM_IN_ORDER);
            stream = out.get(ADDRESS, 0);
        }
    }

    /** Opens the library at {@code file} (a path or a name the dynamic loader resolves); the engine lives as long as the process. */
    static Dnnl open(String file) {
        return new Dnnl(SymbolLookup.libraryLookup(file, Arena.global()), file);
    }

    /** oneDNN's {@code dnnl_cpu_isa_t} for this CPU: a bit set, e.g. 0xe7 avx512_core_bf16, 0x3e7 with AMX. */
    int effectiveCpuIsa() {
        return (int) call(effectiveIsa);
    }

    /**
     * A primitive computing dst[m,n] (f32, row-major) = src[m,k] (bf16, row-major) x weights[k,n], the
     * weights stored bf16 as n rows of k (oneDNN's "ba" layout, so [N,K] row-major tensors are used in place).
     */
    Primitive matmul(int m, int k, int n) {
        return matmul(m, k, n, false);
    }

    /**
     * As {@link #matmul(int, int, int)}; with {@code packed} the weights are in the layout oneDNN prefers for this
     * shape (its blocked format), which {@link Primitive#pack} produces from the row-major [N,K] weights.
     */
    Primitive matmul(int m, int k, int n, boolean packed) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src = memoryDesc(a, m, k, k, 1, BF16);
            MemorySegment wei = packed ? anyDesc(a, k, n, BF16) : memoryDesc(a, k, n, 1, k, BF16);
            MemorySegment dst = memoryDesc(a, m, n, n, 1, F32);
            MemorySegment out = a.allocate(ADDRESS);
            if (major == 2) {
                MemorySegment op = a.allocate(V2_MATMUL_DESC_BYTES, 64);
                check("dnnl_matmul_desc_init", v2MatmulInit, op, src, wei, MemorySegment.NULL, dst);
                check("dnnl_primitive_desc_create", v2PdCreate, out, op, MemorySegment.NULL, engine, MemorySegment.NULL);
            } else {
                check("dnnl_matmul_primitive_desc_create",
                        v3MatmulPdCreate, out, engine, src, wei, MemorySegment.NULL, dst, MemorySegment.NULL);
            }
            MemorySegment pd = out.get(ADDRESS, 0);
            try {
                check("dnnl_primitive_desc_query", pdQuery, pd, QUERY_IMPL_INFO_STR, 0, out);
                String impl = out.get(ADDRESS, 0).reinterpret(256).getString(0);
                if (major == 3) check("dnnl_memory_desc_destroy", v3MdDestroy, wei);
                // The chosen weights layout outlives the primitive descriptor that owns it: copied or cloned.
                MemorySegment weights = ownedCopy((MemorySegment) call(pdQueryMd, pd, QUERY_WEIGHTS_MD, 0));
                check("dnnl_primitive_create", primitiveCreate, out, pd);
                MemorySegment prim = out.get(ADDRESS, 0);
                Primitive mm = new Primitive(prim, impl, memory(src), weights, memory(dst), k, n);
                if (major == 3) for (MemorySegment md : new MemorySegment[] {src, dst}) check("dnnl_memory_desc_destroy", v3MdDestroy, md);
                return mm;
            } finally {
                call(pdDestroy, pd);
            }
        }
    }

    /** A compiled matmul primitive with its three memory objects; data pointers are set per execution. */
    final class Primitive {
        final String impl;
        /** Bytes of the weights in this primitive's layout (2 k n, plus padding when blocked). */
        final long weightsBytes;
        private final MemorySegment prim, src, wei, dst, args, weightsDesc;
        private final int k, n;
        private final Arena arena = Arena.ofShared();

        private Primitive(MemorySegment prim, String impl, MemorySegment src, MemorySegment weightsDesc, MemorySegment dst, int k, int n) {
            this.prim = prim;
            this.impl = impl;
            this.src = src;
            this.weightsDesc = weightsDesc;
            this.wei = memory(weightsDesc);
            this.dst = dst;
            this.k = k;
            this.n = n;
            weightsBytes = (long) call(mdSize, weightsDesc);
            args = execArgs(arena, new int[] {ARG_SRC, ARG_WEIGHTS, ARG_DST}, src, wei, dst);
        }

        /** Whether the other primitive reads its weights in the same layout (so packed weights serve both). */
        boolean sameWeightsLayout(Primitive other) {
            return (int) call(mdEqual, weightsDesc, other.weightsDesc) != 0;
        }

        /**
         * Writes the [N,K] row-major bf16 weights at {@code plainAddress} in this primitive's layout to
         * {@code packedAddress} ({@link #weightsBytes} bytes), with oneDNN's reorder.
         */
        void pack(long plainAddress, long packedAddress) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment plain = memoryDesc(a, k, n, 1, k, BF16);
                MemorySegment out = a.allocate(ADDRESS);
                check("dnnl_reorder_primitive_desc_create", reorderPdCreate, out, plain, engine, weightsDesc, engine, MemorySegment.NULL);
                MemorySegment pd = out.get(ADDRESS, 0);
                MemorySegment reorder;
                try {
                    check("dnnl_primitive_create", primitiveCreate, out, pd);
                    reorder = out.get(ADDRESS, 0);
                } finally {
                    call(pdDestroy, pd);
                }
                MemorySegment from = memory(plain), to = memory(weightsDesc);
                if (major == 3) check("dnnl_memory_desc_destroy", v3MdDestroy, plain);
                try {
                    check("dnnl_memory_set_data_handle", memorySetHandle, from, MemorySegment.ofAddress(plainAddress));
                    check("dnnl_memory_set_data_handle", memorySetHandle, to, MemorySegment.ofAddress(packedAddress));
                    check("dnnl_primitive_execute", primitiveExecute, reorder, stream, 2, execArgs(a, new int[] {ARG_SRC, ARG_DST}, from, to));
                    check("dnnl_stream_wait", streamWait, stream);
                } finally {
                    call(primitiveDestroy, reorder);
                    call(memoryDestroy, from);
                    call(memoryDestroy, to);
                }
            }
        }

        /** Runs the primitive on the given native addresses and waits for it. */
        void execute(long srcAddress, long weightsAddress, long dstAddress) {
            check("dnnl_memory_set_data_handle", memorySetHandle, src, MemorySegment.ofAddress(srcAddress));
            check("dnnl_memory_set_data_handle", memorySetHandle, wei, MemorySegment.ofAddress(weightsAddress));
            check("dnnl_memory_set_data_handle", memorySetHandle, dst, MemorySegment.ofAddress(dstAddress));
            check("dnnl_primitive_execute", primitiveExecute, prim, stream, 3, args);
            check("dnnl_stream_wait", streamWait, stream);
        }

        void destroy() {
            call(primitiveDestroy, prim);
            for (MemorySegment m : new MemorySegment[] {src, wei, dst}) call(memoryDestroy, m);
            if (major == 3) call(v3MdDestroy, weightsDesc);
            arena.close();
        }
    }

    /** dnnl_exec_arg_t is {int arg; dnnl_memory_t memory;}: 16 bytes on every 64-bit ABI. */
    private static MemorySegment execArgs(Arena a, int[] kinds, MemorySegment... mems) {
        MemorySegment args = a.allocate(16L * kinds.length, 8);
        for (int i = 0; i < kinds.length; i++) {
            args.set(JAVA_INT, i * 16L, kinds[i]);
            args.set(ADDRESS, i * 16L + 8, mems[i]);
        }
        return args;
    }

    /** A copy (2.x, in global memory) or clone (3.x) of a descriptor owned by a primitive descriptor. */
    private MemorySegment ownedCopy(MemorySegment md) {
        if (major == 2) {
            MemorySegment copy = Arena.global().allocate(V2_MEMORY_DESC_SIZE, 64);
            copy.copyFrom(md.reinterpret(V2_MEMORY_DESC_SIZE));
            return copy;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check("dnnl_memory_desc_clone", v3MdClone, out, md);
            return out.get(ADDRESS, 0);
        }
    }

    /** A descriptor leaving the layout to the primitive (format tag "any"). */
    private MemorySegment anyDesc(Arena a, long rows, long cols, int dataType) {
        MemorySegment dims = a.allocateFrom(JAVA_LONG, rows, cols);
        if (major == 2) {
            MemorySegment md = a.allocate(V2_MEMORY_DESC_BYTES, 64);
            check("dnnl_memory_desc_init_by_tag", v2MdInitByTag, md, 2, dims, dataType, FORMAT_ANY);
            return md;
        }
        MemorySegment out = a.allocate(ADDRESS);
        check("dnnl_memory_desc_create_with_tag", v3MdCreateByTag, out, 2, dims, dataType, FORMAT_ANY);
        return out.get(ADDRESS, 0);
    }

    private MemorySegment memoryDesc(Arena a, long rows, long cols, long rowStride, long colStride, int dataType) {
        MemorySegment dims = a.allocateFrom(JAVA_LONG, rows, cols);
        MemorySegment strides = a.allocateFrom(JAVA_LONG, rowStride, colStride);
        if (major == 2) {
            MemorySegment md = a.allocate(V2_MEMORY_DESC_BYTES, 64);
            check("dnnl_memory_desc_init_by_strides", v2MdInit, md, 2, dims, dataType, strides);
            return md;
        }
        MemorySegment out = a.allocate(ADDRESS);
        check("dnnl_memory_desc_create_with_strides", v3MdCreate, out, 2, dims, dataType, strides);
        return out.get(ADDRESS, 0);
    }

    private MemorySegment memory(MemorySegment md) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check("dnnl_memory_create", memoryCreate, out, md, engine, MemorySegment.NULL);
            return out.get(ADDRESS, 0);
        }
    }

    private void check(String function, MethodHandle h, Object... args) {
        int status = (int) call(h, args);
        if (status != 0) {
            String name = status > 0 && status < STATUS.length ? STATUS[status] : "status " + status;
            throw new IllegalStateException("oneDNN " + version + " (" + file + "): " + function + " failed: " + name);
        }
    }

    private static MethodHandle fn(SymbolLookup lib, String name, MemoryLayout ret, MemoryLayout... args) {
        MemorySegment symbol = lib.find(name).orElseThrow(() -> new IllegalStateException("symbol " + name + " missing"));
        return Linker.nativeLinker().downcallHandle(symbol, FunctionDescriptor.of(ret, args));
    }

    private static Object call(MethodHandle h, Object... args) {
        try {
            return h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
