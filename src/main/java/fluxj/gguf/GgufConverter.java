package fluxj.gguf;

import fluxj.io.Checkpoint;
import fluxj.io.ModelKind;
import fluxj.io.TensorSpec;
import fluxj.tensor.DType;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Parallel;
import fluxj.tensor.Tensor;
import fluxj.tensor.Widen;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes a FLUX transformer as city96's GGUF files are (ComfyUI-GGUF's {@code convert.py}, then llama.cpp's
 * {@code llama-quantize} with city96's patch): BFL names in sorted order, {@code general.architecture = flux},
 * {@code general.quantization_version = 2}, {@code general.file_type}; every 1-D tensor F32; for quantized targets
 * the {@code img_in}, {@code txt_in}, {@code time_in}, {@code vector_in}, {@code guidance_in} and
 * {@code final_layer} matrices keep their source dtype; every other matrix in the target type (F16 when its rows
 * are not whole blocks). Blocks are byte for byte ggml's reference quantizers' ({@link Quantizer}).
 */
public final class GgufConverter {
    /** The target types, as {@code --type} names them. */
    public static final List<DType> TYPES = List.of(DType.Q8_0, DType.Q5_1, DType.Q5_0, DType.Q4_1, DType.Q4_0, DType.BF16, DType.F16);
    private static final List<String> KEPT = List.of("img_in.", "txt_in.", "time_in.", "vector_in.", "guidance_in.", "final_layer.");
    private static final int ROWS_PER_TASK = 64;

    private GgufConverter() {}

    /** llama.cpp's {@code ftype} of a file whose matrices are mostly {@code dt}. */
    static int fileType(DType dt) {
        return switch (dt) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q4_1 -> 3;
            case Q8_0 -> 7;
            case Q5_0 -> 8;
            case Q5_1 -> 9;
            case BF16 -> 32;
            default -> throw new IllegalArgumentException("no file type for " + dt);
        };
    }

    /** {@code --type} text to a target type, or an error listing the choices. */
    public static DType parseType(String s) {
        for (DType t : TYPES) if (t.name().equalsIgnoreCase(s)) return t;
        throw new IllegalArgumentException("--type must be one of " + TYPES.stream().map(t -> t.name().toLowerCase(java.util.Locale.ROOT)).toList() + ", not '" + s + "'");
    }

    /** The FLUX transformer of {@code ck}, names without their prefix; an error when there is none or it is not BFL-named. */
    static Checkpoint flux(Checkpoint ck) {
        ModelKind kind = ModelKind.of(ck);
        if (!(kind instanceof ModelKind.Flux f)) {
            throw new ModelFormatException(ck.description(), "not a FLUX transformer (" + kind.describe() + "); convert writes FLUX transformers");
        }
        if (f.layout() != ModelKind.Layout.BFL) {
            throw new ModelFormatException(ck.description(), "a diffusers-named transformer; convert needs BFL names (flux1-*.safetensors, ComfyUI files)");
        }
        return ck.withPrefix(f.prefix());
    }

    /** The dtype each tensor is written in. */
    static DType target(String name, Tensor t, DType type) {
        if (t.rank() == 1) return DType.F32;
        boolean quantized = type.isBlock();
        if (quantized && KEPT.stream().anyMatch(name::startsWith)) return t.dtype();
        if (t.shape()[t.rank() - 1] % type.blockValues() != 0) return DType.F16;
        return type;
    }

    /**
     * Writes {@code out} (through a {@code .part} file moved into place when complete, so a failure leaves no
     * output) from the FLUX transformer in {@code ck}.
     */
    public static void convert(Checkpoint ck, Path out, DType type) throws IOException {
        if (!TYPES.contains(type)) throw new IllegalArgumentException("cannot convert to " + type + "; types: " + TYPES);
        Checkpoint flux = flux(ck);
        Map<String, Tensor> sorted = new TreeMap<>(flux.tensors());
        List<TensorSpec> specs = new ArrayList<>();
        for (var e : sorted.entrySet()) {
            Tensor t = e.getValue();
            if (t.dtype().isFp8() || !t.dtype().isFloat() || t.scale() != 1f) {
                throw new ModelFormatException(ck.description(), "tensor '" + e.getKey() + "' is " + t.dtype()
                        + "; convert reads F32, F16, BF16 and GGUF weights (not FP8 or integer tensors)");
            }
            if (t.rank() < 1 || t.rank() > 4) throw new ModelFormatException(ck.description(), "tensor '" + e.getKey() + "' has " + t.rank() + " dimensions; GGUF holds 1 to 4");
            DType dt = target(e.getKey(), t, type);
            if (dt == t.dtype() && t.dtype().isBlock() || Quantizer.canQuantize(dt)) specs.add(new TensorSpec(e.getKey(), dt, t.shape()));
            else throw new ModelFormatException(ck.description(), "tensor '" + e.getKey() + "' is " + t.dtype() + ", which cannot be kept in a " + type + " file");
        }
        Map<String, GgufValue> kv = new LinkedHashMap<>();
        kv.put("general.architecture", GgufValue.string("flux"));
        kv.put("general.quantization_version", GgufValue.u32(2));
        kv.put("general.file_type", GgufValue.u32(fileType(type)));
        Path part = out.resolveSibling(out.getFileName() + ".part");
        try {
            GgufWriter.write(part, kv, specs, (s, seg) -> write(sorted.get(s.name()), s.dtype(), seg));
            Files.move(part, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(part);
        }
    }

    /** One tensor as {@code dt} into {@code seg}: bytes copied when the dtype is kept, else decoded and quantized, rows spread over the pool. */
    private static void write(Tensor t, DType dt, MemorySegment seg) {
        if (dt == t.dtype()) {
            MemorySegment.copy(t.data(), 0, seg, 0, seg.byteSize());
        } else {
            int rows = t.rows(), cols = t.cols();
            long rowBytes = dt.bytes(cols);
            Parallel.forEach((rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK, task -> {
                int r0 = task * ROWS_PER_TASK, r1 = Math.min(rows, r0 + ROWS_PER_TASK);
                float[] buf = new float[cols];
                for (int r = r0; r < r1; r++) {
                    Widen.rows(t, r, r + 1, buf);
                    Quantizer.quantize(dt, buf, 0, cols, seg, r * rowBytes);
                }
            });
        }
        // The source was read once: drop its pages so a large conversion does not hold both files in memory.
        if (t.data().isMapped()) t.data().unload();
    }
}
