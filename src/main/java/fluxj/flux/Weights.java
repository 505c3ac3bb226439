package fluxj.flux;

import fluxj.io.Checkpoint;
import fluxj.io.Json;
import fluxj.tensor.DType;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Tensor;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads the transformer's layers from a checkpoint through a {@link FluxLayout}: shape checks, ComfyUI's
 * per-layer FP8 scales (kept as {@link Tensor#scale()}, applied inside the matmul), and a record of every tensor
 * used so that leftovers can be reported.
 */
final class Weights {
    private final Checkpoint ck;
    private final String prefix;
    private final FluxLayout layout;
    private final WeightPatcher patcher;
    private final Set<String> used = new HashSet<>();
    private final Map<String, FluxTransformer.Shape> linears = new LinkedHashMap<>();
    private final Map<String, Integer> vectors = new LinkedHashMap<>();

    /** {@code ck} is the view of the checkpoint without {@code prefix} (ComfyUI's), which error messages put back. */
    Weights(Checkpoint ck, String prefix, FluxLayout layout, WeightPatcher patcher) {
        this.ck = ck;
        this.prefix = prefix;
        this.layout = layout;
        this.patcher = patcher;
    }

    /** Every linear layer read so far, by BFL module name, with its [out, in]. */
    Map<String, FluxTransformer.Shape> linears() { return Collections.unmodifiableMap(linears); }

    /** Every vector read so far, by BFL name, with its length. */
    Map<String, Integer> vectors() { return Collections.unmodifiableMap(vectors); }

    FluxLayout layout() { return layout; }

    Checkpoint checkpoint() { return ck; }

    /** Linear layer {@code module} ([sum(outs), in]) split into parts of {@code outs} rows. */
    Linear linear(String module, int in, boolean bias, int... outs) {
        List<Linear.Part> parts = new ArrayList<>();
        List<FluxLayout.Segment> segments = layout.linear(module);
        int seg = 0, segRow = 0, row = 0;
        Tensor w = null;
        float[] b = null;
        for (int out : outs) {
            if (w == null || segRow == w.rows()) {
                if (seg == segments.size()) throw rowsMismatch(module, segments, outs);
                FluxLayout.Segment s = segments.get(seg++);
                w = segmentWeight(module, s, in);
                b = bias ? segmentBias(s, w.rows()) : null;
                segRow = 0;
            }
            if (segRow + out > w.rows()) throw rowsMismatch(module, segments, outs);
            Linear.Part part = new Linear.Part(w.sliceRows(segRow, segRow + out), b == null ? null : Arrays.copyOfRange(b, segRow, segRow + out));
            Linear.Part patched = patcher.linear(module, row, part);
            if (patched.weight().cols() != in) {
                throw new IllegalStateException("the weight patcher gave " + module + " " + patched.weight().cols() + " inputs, not " + in);
            }
            parts.add(patched);
            segRow += out;
            row += out;
        }
        if (seg != segments.size() || segRow != w.rows()) throw rowsMismatch(module, segments, outs);
        linears.put(module, new FluxTransformer.Shape(row, in));
        return new Linear(parts, in);
    }

    /** Whether BFL linear {@code module} has a stored bias. */
    boolean hasBias(String module) {
        return ck.has(layout.linear(module).getFirst().module() + ".bias");
    }

    /** Row count of BFL linear {@code module}, or -1 when absent. */
    int rows(String module) {
        int rows = 0;
        for (FluxLayout.Segment s : layout.linear(module)) {
            Tensor t = matrix(s.module() + ".weight");
            if (t == null) return -1;
            rows += t.rows() / s.chunks();
        }
        return rows;
    }

    /** Inputs of BFL linear {@code module} in the patched model (see {@link WeightPatcher#inputs}), or -1 when absent. */
    int inputs(String module) {
        int stored = cols(module);
        return stored < 0 ? stored : patcher.inputs(module, stored);
    }

    /** Column count of BFL linear {@code module}, or -1 when absent. */
    int cols(String module) {
        Tensor t = matrix(layout.linear(module).getFirst().module() + ".weight");
        return t == null ? -1 : t.cols();
    }

    private Tensor matrix(String name) {
        Tensor t = ck.find(name).orElse(null);
        if (t != null && t.rank() != 2) throw badShape(name, t, "a matrix");
        return t;
    }

    /** Length of BFL vector {@code name}, or -1 when absent. */
    int length(String name) {
        return ck.find(layout.vector(name)).map(t -> (int) t.numel()).orElse(-1);
    }

    boolean has(String bflModule) {
        return ck.has(layout.linear(bflModule).getFirst().module() + ".weight");
    }

    /** A small vector (norm scale) widened to f32. */
    float[] vector(String name, int length) {
        String stored = layout.vector(name);
        Tensor t = take(stored);
        if (t.rank() != 1 || t.numel() != length) throw badShape(stored, t, "[" + length + "]");
        vectors.put(name, length);
        return patcher.vector(name, t.toFloats());
    }

    /** Fails naming the first tensor of the checkpoint that no layer used. */
    void requireAllUsed() {
        for (var e : ck.tensors().entrySet()) {
            if (!used.contains(e.getKey()) && !isQuantMarker(e.getKey())) {
                Tensor t = e.getValue();
                throw new ModelFormatException(t.source(), "unexpected tensor '" + prefix + e.getKey() + "' " + t.dtype() + Arrays.toString(t.shape())
                        + ": not part of a " + layout.name() + "-layout FLUX transformer of the size read from its other tensors");
            }
        }
    }

    /** Tensors that only describe quantisation: the scaled-FP8 marker and activation scales (unused when weights are widened). */
    private static boolean isQuantMarker(String name) {
        return name.equals("scaled_fp8") || name.endsWith(".scale_input") || name.endsWith(".input_scale");
    }

    /** The stored weight of a segment of BFL linear {@code module}, which takes {@code in} inputs as stored or as patched. */
    private Tensor segmentWeight(String module, FluxLayout.Segment s, int in) {
        String name = s.module() + ".weight";
        Tensor w = take(name);
        if (w.rank() != 2 || w.dim(1) != in && patcher.inputs(module, w.dim(1)) != in || w.dim(0) % s.chunks() != 0) {
            throw badShape(name, w, "[" + (s.chunks() > 1 ? s.chunks() + "*n" : "n") + ", " + in + "]");
        }
        w = w.withScale(weightScale(s.module(), w));
        int rows = w.rows() / s.chunks();
        return s.chunks() == 1 ? w : w.sliceRows(s.chunk() * rows, (s.chunk() + 1) * rows);
    }

    private float[] segmentBias(FluxLayout.Segment s, int rows) {
        String name = s.module() + ".bias";
        Tensor b = take(name);
        if (b.rank() != 1 || b.numel() != (long) rows * s.chunks()) throw badShape(name, b, "[" + rows * s.chunks() + "]");
        float[] all = b.toFloats();
        return Arrays.copyOfRange(all, s.chunk() * rows, (s.chunk() + 1) * rows);
    }

    /**
     * ComfyUI's FP8 weight scale: {@code <layer>.scale_weight} (files with the {@code scaled_fp8} marker) or
     * {@code <layer>.weight_scale} with a {@code <layer>.comfy_quant} JSON byte tensor naming the format.
     * Either way the weight is {@code float32(fp8) * scale}. 1 for unscaled weights.
     */
    private float weightScale(String module, Tensor w) {
        String legacy = module + ".scale_weight", current = module + ".weight_scale", conf = module + ".comfy_quant";
        if (ck.has(conf)) checkQuantFormat(prefix + conf, take(conf), prefix + module + ".weight", w);
        String name = ck.has(legacy) ? legacy : ck.has(current) ? current : null;
        if (name == null) return 1f;
        Tensor s = take(name);
        if (s.numel() != 1 || !s.dtype().isFloat()) {
            throw badShape(name, s, "one float (a per-tensor scale)");
        }
        if (!w.dtype().isFp8()) {
            throw new ModelFormatException(w.source(), "tensor '" + prefix + module + ".weight' has a scale '" + prefix + name + "' but is " + w.dtype() + ", not FP8");
        }
        return s.get(0);
    }

    private static void checkQuantFormat(String confName, Tensor conf, String weightName, Tensor w) {
        String format;
        try {
            byte[] bytes = new byte[(int) conf.numel()];
            for (int i = 0; i < bytes.length; i++) bytes[i] = (byte) conf.getLong(i);
            if (!(Json.parse(new String(bytes, StandardCharsets.UTF_8)) instanceof Map<?, ?> m) || !(m.get("format") instanceof String f)) {
                throw new ModelFormatException(conf.source(), "'" + confName + "' holds no {\"format\": ...} object");
            }
            format = f;
        } catch (Json.JsonException e) {
            throw new ModelFormatException(conf.source(), "'" + confName + "' is not JSON: " + e.getMessage());
        }
        DType expected = switch (format) {
            case "float8_e4m3fn" -> DType.F8_E4M3;
            case "float8_e5m2" -> DType.F8_E5M2;
            default -> throw new ModelFormatException(conf.source(), "layer '" + weightName + "' is quantised as '" + format
                    + "', which is not supported (only float8_e4m3fn / float8_e5m2 with a per-tensor scale)");
        };
        if (w.dtype() != expected) {
            throw new ModelFormatException(w.source(), "tensor '" + weightName + "' is " + w.dtype() + " but '" + confName + "' says " + format);
        }
    }

    private Tensor take(String name) {
        Tensor t = ck.find(name).orElseThrow(() -> new ModelFormatException(ck.description(),
                "missing tensor '" + prefix + name + "' (" + layout.name() + "-layout FLUX transformer)"));
        used.add(name);
        return t;
    }

    private ModelFormatException badShape(String name, Tensor t, String expected) {
        return new ModelFormatException(t.source(), "tensor '" + prefix + name + "' has shape " + Arrays.toString(t.shape()) + ", expected " + expected);
    }

    private ModelFormatException rowsMismatch(String module, List<FluxLayout.Segment> segments, int[] outs) {
        List<String> stored = segments.stream().map(s -> {
            Tensor t = ck.get(s.module() + ".weight");
            return prefix + s.module() + ".weight" + Arrays.toString(t.shape()) + (s.chunks() > 1 ? " (part " + (s.chunk() + 1) + " of " + s.chunks() + ")" : "");
        }).toList();
        String source = ck.get(segments.getFirst().module() + ".weight").source();
        return new ModelFormatException(source, "tensors " + stored + " do not give the output rows " + Arrays.toString(outs)
                + " expected for layer " + module);
    }
}
