package fluxj.tensor.onednn;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
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
    private static final int ENGINE_CPU = 1, STREAM_IN_ORDER = 1, QUERY_IMPL_INFO_STR = 8;
    private static final int ARG_SRC = 1, ARG_DST = 17, ARG_WEIGHTS = 33, ARG_BIAS = 41;
    /** dnnl_eltwise_gelu_tanh: 3.x numbers the eltwise algorithms anew (relu 0x20, ..., gelu_tanh 0x2b). */
    private static final int V2_ELTWISE_GELU_TANH = 0xcf, V3_ELTWISE_GELU_TANH = 0x2b;
    // 2.x passes descriptors as structs owned by the caller; these bounds exceed every 2.x layout (2.6: 696, 2800).
    private static final long V2_MEMORY_DESC_BYTES = 1024, V2_MATMUL_DESC_BYTES = 4096;
    private static final String[] STATUS = {"success", "out of memory", "invalid arguments", "unimplemented",
            "last implementation reached", "runtime error", "not required", "invalid graph", "invalid graph op",
            "invalid shape", "invalid data type"};

    /** The library file as it was opened, and its version "major.minor.patch". */
    final String file, version;
    final int major;
    /** OpenMP's thread count for oneDNN's parallel regions, or 0 when oneDNN is not built on OpenMP. */
    final int ompThreads;
    final MemorySegment engine, stream;
    private final MethodHandle primitiveCreate, primitiveExecute, primitiveDestroy, pdQuery, pdDestroy,
            memoryCreate, memorySetHandle, memoryDestroy, streamWait, effectiveIsa,
            attrCreate, attrDestroy, attrSetPostOps, postOpsCreate, postOpsDestroy, postOpsAppendEltwise;
    private final MethodHandle v2MdInit, v2MatmulInit, v2PdCreate, v3MdCreate, v3MdDestroy, v3MatmulPdCreate;

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
        attrCreate = fn(lib, "dnnl_primitive_attr_create", JAVA_INT, ADDRESS);
        attrDestroy = fn(lib, "dnnl_primitive_attr_destroy", JAVA_INT, ADDRESS);
        attrSetPostOps = fn(lib, "dnnl_primitive_attr_set_post_ops", JAVA_INT, ADDRESS, ADDRESS);
        postOpsCreate = fn(lib, "dnnl_post_ops_create", JAVA_INT, ADDRESS);
        postOpsDestroy = fn(lib, "dnnl_post_ops_destroy", JAVA_INT, ADDRESS);
        // 2.x takes a scale before the algorithm (post_ops, scale, alg, alpha, beta); 3.x dropped it.
        postOpsAppendEltwise = major == 2
                ? fn(lib, "dnnl_post_ops_append_eltwise", JAVA_INT, ADDRESS, JAVA_FLOAT, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT)
                : fn(lib, "dnnl_post_ops_append_eltwise", JAVA_INT, ADDRESS, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT);
        // The lookup sees the library's dependencies too, so an OpenMP build answers with its runtime's setting.
        ompThreads = lib.find("omp_get_max_threads")
                .map(f -> (int) call(Linker.nativeLinker().downcallHandle(f, FunctionDescriptor.of(JAVA_INT)))).orElse(0);
        boolean v3 = major == 3;
        v2MdInit = v3 ? null : fn(lib, "dnnl_memory_desc_init_by_strides", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS);
        v2MatmulInit = v3 ? null : fn(lib, "dnnl_matmul_desc_init", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        v2PdCreate = v3 ? null : fn(lib, "dnnl_primitive_desc_create", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        v3MdCreate = v3 ? fn(lib, "dnnl_memory_desc_create_with_strides", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS) : null;
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
        return matmul(m, k, n, false, false);
    }

    /**
     * The same product with the epilogue inside oneDNN's kernel: {@code + bias[n]} (f32, passed per execution) when
     * {@code bias}, then GELU (tanh approximation) of every output when {@code gelu}, all in f32 before the store.
     */
    Primitive matmul(int m, int k, int n, boolean bias, boolean gelu) {
        return matmul(0, m, k, n, new long[] {k, 1}, new long[] {1, k}, new long[] {n, 1}, F32, bias, gelu);
    }

    /**
     * The same product on strided operands, {row stride, column stride} in elements for each: e.g. one head's
     * columns of a [tokens, heads * headDim] matrix, or its transpose.
     */
    Primitive matmul(int m, int k, int n, long[] srcStrides, long[] weightsStrides, long[] dstStrides) {
        return matmul(0, m, k, n, srcStrides, weightsStrides, dstStrides, F32);
    }

    /**
     * {@code batch} products at once (0: a plain 2-D product), each operand's strides given batch-first when batched:
     * e.g. every head of an attention, head h's columns {@code h * headDim} of [tokens, heads * headDim] matrices.
     * The destination is f32 or bf16 ({@code dstType}).
     */
    Primitive matmul(int batch, int m, int k, int n, long[] srcStrides, long[] weightsStrides, long[] dstStrides, int dstType) {
        return matmul(batch, m, k, n, srcStrides, weightsStrides, dstStrides, dstType, false, false);
    }

    private Primitive matmul(int batch, int m, int k, int n, long[] srcStrides, long[] weightsStrides, long[] dstStrides, int dstType,
                             boolean withBias, boolean gelu) {
        if (withBias && batch != 0) throw new IllegalArgumentException("bias on a batched matmul");
        long[] srcDims = batch == 0 ? new long[] {m, k} : new long[] {batch, m, k};
        long[] weiDims = batch == 0 ? new long[] {k, n} : new long[] {batch, k, n};
        long[] dstDims = batch == 0 ? new long[] {m, n} : new long[] {batch, m, n};
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src = memoryDesc(a, srcDims, srcStrides, BF16);
            MemorySegment wei = memoryDesc(a, weiDims, weightsStrides, BF16);
            MemorySegment dst = memoryDesc(a, dstDims, dstStrides, dstType);
            MemorySegment bias = withBias ? memoryDesc(a, new long[] {1, n}, new long[] {n, 1}, F32) : MemorySegment.NULL;
            MemorySegment out = a.allocate(ADDRESS);
            MemorySegment attr = gelu ? geluAttr() : MemorySegment.NULL;
            MemorySegment pd;
            try {
                pd = matmulDescriptor(src, wei, bias, dst, attr);
            } finally {
                if (gelu) call(attrDestroy, attr);
            }
            try {
                check("dnnl_primitive_desc_query", pdQuery, pd, QUERY_IMPL_INFO_STR, 0, out);
                String impl = out.get(ADDRESS, 0).reinterpret(256).getString(0);
                check("dnnl_primitive_create", primitiveCreate, out, pd);
                MemorySegment prim = out.get(ADDRESS, 0);
                Primitive mm = new Primitive(prim, impl, memory(a, src), memory(a, wei), memory(a, dst),
                        withBias ? memory(a, bias) : MemorySegment.NULL);
                if (major == 3) {
                    for (MemorySegment md : new MemorySegment[] {src, wei, dst, bias}) if (!md.equals(MemorySegment.NULL)) check("dnnl_memory_desc_destroy", v3MdDestroy, md);
                }
                return mm;
            } finally {
                call(pdDestroy, pd);
            }
        }
    }

    /** A matmul primitive descriptor for the given memory descriptors (no bias, no attributes); the caller destroys it. */
    MemorySegment matmulDescriptor(MemorySegment src, MemorySegment wei, MemorySegment dst) {
        return matmulDescriptor(src, wei, MemorySegment.NULL, dst, MemorySegment.NULL);
    }

    /** With a bias descriptor and attributes, each NULL when absent. */
    private MemorySegment matmulDescriptor(MemorySegment src, MemorySegment wei, MemorySegment bias, MemorySegment dst, MemorySegment attr) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            if (major == 2) {
                MemorySegment op = a.allocate(V2_MATMUL_DESC_BYTES, 64);
                check("dnnl_matmul_desc_init", v2MatmulInit, op, src, wei, bias, dst);
                check("dnnl_primitive_desc_create", v2PdCreate, out, op, attr, engine, MemorySegment.NULL);
            } else {
                check("dnnl_matmul_primitive_desc_create", v3MatmulPdCreate, out, engine, src, wei, bias, dst, attr);
            }
            return out.get(ADDRESS, 0);
        }
    }

    /** Primitive attributes holding one post-op, GELU (tanh) of the output; the caller destroys them. */
    private MemorySegment geluAttr() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check("dnnl_post_ops_create", postOpsCreate, out);
            MemorySegment ops = out.get(ADDRESS, 0);
            try {
                if (major == 2) check("dnnl_post_ops_append_eltwise", postOpsAppendEltwise, ops, 1f, V2_ELTWISE_GELU_TANH, 0f, 0f);
                else check("dnnl_post_ops_append_eltwise", postOpsAppendEltwise, ops, V3_ELTWISE_GELU_TANH, 0f, 0f);
                check("dnnl_primitive_attr_create", attrCreate, out);
                MemorySegment attr = out.get(ADDRESS, 0);
                check("dnnl_primitive_attr_set_post_ops", attrSetPostOps, attr, ops);
                return attr;
            } finally {
                call(postOpsDestroy, ops);
            }
        }
    }

    /** A compiled matmul primitive with its memory objects (bias NULL when it has none); data pointers are set per execution. */
    final class Primitive {
        final String impl;
        private final MemorySegment prim, src, wei, dst, bias, args;
        private final int argCount;
        private final Arena arena = Arena.ofShared();

        private Primitive(MemorySegment prim, String impl, MemorySegment src, MemorySegment wei, MemorySegment dst, MemorySegment bias) {
            this.prim = prim;
            this.impl = impl;
            this.src = src;
            this.wei = wei;
            this.dst = dst;
            this.bias = bias;
            boolean hasBias = !bias.equals(MemorySegment.NULL);
            int[] kinds = hasBias ? new int[] {ARG_SRC, ARG_WEIGHTS, ARG_DST, ARG_BIAS} : new int[] {ARG_SRC, ARG_WEIGHTS, ARG_DST};
            MemorySegment[] mems = hasBias ? new MemorySegment[] {src, wei, dst, bias} : new MemorySegment[] {src, wei, dst};
            argCount = kinds.length;
            // dnnl_exec_arg_t is {int arg; dnnl_memory_t memory;}: 16 bytes on every 64-bit ABI.
            args = arena.allocate(16L * argCount, 8);
            for (int i = 0; i < argCount; i++) {
                args.set(JAVA_INT, i * 16L, kinds[i]);
                args.set(ADDRESS, i * 16L + 8, mems[i]);
            }
        }

        /** Runs the primitive on the given native addresses and waits for it. */
        void execute(long srcAddress, long weightsAddress, long dstAddress) {
            if (argCount != 3) throw new IllegalStateException("this matmul takes a bias");
            run(srcAddress, weightsAddress, dstAddress);
        }

        /** Runs a primitive made with a bias, reading the n f32 values at {@code biasAddress}. */
        void execute(long srcAddress, long weightsAddress, long biasAddress, long dstAddress) {
            if (argCount != 4) throw new IllegalStateException("this matmul takes no bias");
            check("dnnl_memory_set_data_handle", memorySetHandle, bias, MemorySegment.ofAddress(biasAddress));
            run(srcAddress, weightsAddress, dstAddress);
        }

        private void run(long srcAddress, long weightsAddress, long dstAddress) {
            check("dnnl_memory_set_data_handle", memorySetHandle, src, MemorySegment.ofAddress(srcAddress));
            check("dnnl_memory_set_data_handle", memorySetHandle, wei, MemorySegment.ofAddress(weightsAddress));
            check("dnnl_memory_set_data_handle", memorySetHandle, dst, MemorySegment.ofAddress(dstAddress));
            check("dnnl_primitive_execute", primitiveExecute, prim, stream, argCount, args);
            check("dnnl_stream_wait", streamWait, stream);
        }

        void destroy() {
            call(primitiveDestroy, prim);
            for (MemorySegment m : new MemorySegment[] {src, wei, dst, bias}) if (!m.equals(MemorySegment.NULL)) call(memoryDestroy, m);
            arena.close();
        }
    }

    MemorySegment memoryDesc(Arena a, long rows, long cols, long rowStride, long colStride, int dataType) {
        return memoryDesc(a, new long[] {rows, cols}, new long[] {rowStride, colStride}, dataType);
    }

    /** A strided descriptor of any rank: {@code dims[i]} elements {@code strides[i]} apart. */
    MemorySegment memoryDesc(Arena a, long[] dims, long[] strides, int dataType) {
        MemorySegment d = a.allocateFrom(JAVA_LONG, dims), st = a.allocateFrom(JAVA_LONG, strides);
        if (major == 2) {
            MemorySegment md = a.allocate(V2_MEMORY_DESC_BYTES, 64);
            check("dnnl_memory_desc_init_by_strides", v2MdInit, md, dims.length, d, dataType, st);
            return md;
        }
        MemorySegment out = a.allocate(ADDRESS);
        check("dnnl_memory_desc_create_with_strides", v3MdCreate, out, dims.length, d, dataType, st);
        return out.get(ADDRESS, 0);
    }

    private MemorySegment memory(Arena a, MemorySegment md) {
        MemorySegment out = a.allocate(ADDRESS);
        check("dnnl_memory_create", memoryCreate, out, md, engine, MemorySegment.NULL);
        return out.get(ADDRESS, 0);
    }

    void check(String function, MethodHandle h, Object... args) {
        int status = (int) call(h, args);
        if (status != 0) {
            String name = status > 0 && status < STATUS.length ? STATUS[status] : "status " + status;
            throw new Failure("oneDNN " + version + " (" + file + "): " + function + " failed: " + name, status);
        }
    }

    /** A oneDNN call that returned an error status. */
    static final class Failure extends IllegalStateException {
        private final int status;

        Failure(String message, int status) {
            super(message);
            this.status = status;
        }

        /** oneDNN has no implementation for what was asked (as opposed to running out of memory or failing). */
        boolean unsupported() { return status == 2 || status == 3; }
    }

    static MethodHandle fn(SymbolLookup lib, String name, MemoryLayout ret, MemoryLayout... args) {
        MemorySegment symbol = lib.find(name).orElseThrow(() -> new IllegalStateException("symbol " + name + " missing"));
        return Linker.nativeLinker().downcallHandle(symbol, FunctionDescriptor.of(ret, args));
    }

    static Object call(MethodHandle h, Object... args) {
        try {
            return h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
