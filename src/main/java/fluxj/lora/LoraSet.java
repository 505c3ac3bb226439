package fluxj.lora;

import fluxj.flux.FluxTransformer;
import fluxj.flux.WeightPatcher;
import fluxj.io.Checkpoint;
import fluxj.tensor.DType;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * LoRA files, each with its strength, read and checked against one model: every module mapped to the weight it
 * patches, every factor checked (shapes, ranks, finite values), before anything runs. The files stay mapped
 * while the set is open, since the low-rank path reads their factors at every step; close it once no model
 * built with it is used any more.
 */
public final class LoraSet implements AutoCloseable {
    /** The layers of a model a LoRA can patch: linear layers by name with [out, in], the transformer's norm scales. */
    public record Model(Map<String, FluxTransformer.Shape> transformer, Map<String, Integer> vectors,
                        Map<String, FluxTransformer.Shape> clip) {}

    /** A BFL control LoRA's replacement for a norm scale (ComfyUI's "set": the strength does not apply). */
    record VectorSet(String name, Tensor values, String file) {}

    private final List<LoraRef> refs;
    private final Model model;
    private final List<LoraFile> files;
    private final List<Patch> patches;
    private final List<VectorSet> sets;

    private LoraSet(List<LoraRef> refs, Model model, List<LoraFile> files, List<Patch> patches, List<VectorSet> sets) {
        this.refs = List.copyOf(refs);
        this.model = model;
        this.files = files;
        this.patches = List.copyOf(patches);
        this.sets = List.copyOf(sets);
    }

    /** No LoRA. */
    public static LoraSet empty(Model model) { return new LoraSet(List.of(), model, List.of(), List.of(), List.of()); }

    /**
     * Reads {@code refs} in order and maps them onto {@code model}. Fails, naming the file and the first offending
     * key, on an unreadable file, a module whose shapes or values are wrong, or a file none of whose modules
     * matches; modules that match nothing while others match are reported to {@code warnings}, one line a file.
     */
    public static LoraSet open(List<LoraRef> refs, Model model, Consumer<String> warnings) throws IOException {
        LoraKeys keys = new LoraKeys(model.transformer(), model.clip());
        List<LoraFile> files = new ArrayList<>();
        List<Patch> patches = new ArrayList<>();
        List<VectorSet> sets = new ArrayList<>();
        try {
            for (LoraRef ref : refs) {
                LoraFile f = LoraFile.open(ref.file());
                files.add(f);
                read(f, ref.weight(), keys, model, patches, sets, warnings);
            }
        } catch (IOException | RuntimeException e) {
            files.forEach(LoraFile::close);
            throw e;
        }
        return new LoraSet(refs, model, files, patches, sets);
    }

    public List<LoraRef> refs() { return refs; }

    Model model() { return model; }

    public boolean isEmpty() { return refs.isEmpty(); }

    /** Whether any module patches the transformer (weights, biases or norm scales). */
    public boolean patchesTransformer() {
        return !sets.isEmpty() || patches.stream().anyMatch(p -> p.target().component() == Target.Component.TRANSFORMER);
    }

    /** Whether any module patches CLIP-L. */
    public boolean patchesClip() {
        return patches.stream().anyMatch(p -> p.target().component() == Target.Component.CLIP);
    }

    List<Patch> patches() { return patches; }

    List<VectorSet> sets() { return sets; }

    /**
     * The transformer's patcher: float weights (F32/F16/BF16) merged into float32 copies allocated from
     * {@code copies} when {@code merge}, every other weight (FP8, scaled FP8, quantized) patched by terms beside its
     * matmul, never re-quantized.
     */
    public WeightPatcher transformerPatcher(Arena copies, boolean merge) {
        return new TransformerPatcher(this, copies, merge);
    }

    /** Bytes of the float32 copies merging makes of the transformer's patched weights (at most: whole layers). */
    public long mergedBytes() { return copyBytes(Target.Component.TRANSFORMER, model.transformer()); }

    /**
     * Bytes of the float32 copies made whatever the stored dtype and the LoRA mode: the layers whose deltas are
     * not exactly as wide as their stored weight (a control LoRA's widened img_in; no stored weight to run beside).
     */
    public long paddedCopyBytes() {
        return patches.stream().filter(p -> p.target().component() == Target.Component.TRANSFORMER && p.delta() != null
                        && p.delta().cols() != model.transformer().get(p.target().module()).in())
                .map(p -> p.target().module()).distinct().mapToLong(m -> copyBytes(m, model.transformer().get(m))).sum();
    }

    /** Bytes of the float32 copies CLIP-L's patched weights and biases take (CLIP is always merged). */
    public long clipCopyBytes() { return copyBytes(Target.Component.CLIP, model.clip()); }

    private long copyBytes(Target.Component c, Map<String, FluxTransformer.Shape> shapes) {
        return patches.stream().filter(p -> p.target().component() == c).map(p -> p.target().module()).distinct()
                .mapToLong(m -> copyBytes(m, shapes.get(m))).sum();
    }

    private long copyBytes(String module, FluxTransformer.Shape s) {
        return 4L * s.out() * (inputs(module, s.in()) + 1);
    }

    private static void read(LoraFile f, double weight, LoraKeys keys, Model model, List<Patch> patches, List<VectorSet> sets,
                             Consumer<String> warnings) {
        String file = f.path().toString();
        List<String> unmatched = new ArrayList<>();
        int matched = 0;
        for (var e : f.modules().entrySet()) {
            String module = e.getKey();
            Map<String, Tensor> t = e.getValue();
            String key = module + t.keySet().iterator().next();
            if (t.size() == 1 && t.containsKey("")) {
                String vector = module.startsWith("diffusion_model.") ? module.substring("diffusion_model.".length()) : module;
                Integer length = model.vectors().get(vector);
                if (length == null) {
                    unmatched.add(module);
                    continue;
                }
                Tensor v = t.get("");
                if (v.numel() != length || v.rank() != 1) throw bad(file, key, "has shape " + java.util.Arrays.toString(v.shape()) + ", the model's " + vector + " has " + length + " values");
                requireFinite(file, key, v);
                sets.add(new VectorSet(vector, v, file));
                matched++;
                continue;
            }
            Target target = keys.find(module);
            if (target == null) {
                unmatched.add(module);
                continue;
            }
            FluxTransformer.Shape shape = (target.component() == Target.Component.CLIP ? model.clip() : model.transformer()).get(target.module());
            patches.add(patch(file, module, t, target, shape, weight, model));
            matched++;
        }
        if (matched == 0) {
            throw new ModelFormatException(file, "none of its " + f.modules().size() + " modules matches a layer of this model (first: '"
                    + f.modules().keySet().iterator().next() + "'): not a FLUX.1 / CLIP-L LoRA, or made for a model of another size");
        }
        if (!unmatched.isEmpty()) {
            warnings.accept("LoRA " + file + ": " + unmatched.size() + " module" + (unmatched.size() == 1 ? "" : "s")
                    + " match nothing in this model and are ignored: " + String.join(", ", unmatched));
        }
    }

    private static Patch patch(String file, String module, Map<String, Tensor> t, Target target, FluxTransformer.Shape shape,
                               double weight, Model model) {
        for (String unsupported : List.of(".lora_mid.weight", ".hada_t1", ".hada_t2", ".lokr_t2", ".dora_scale")) {
            if (t.containsKey(unsupported)) {
                throw bad(file, module + unsupported, unsupported.equals(".dora_scale") ? "DoRA LoRAs are not supported"
                        : "is a convolution (Tucker) factor, which no FLUX linear layer takes");
            }
        }
        Double alpha = null;
        if (t.containsKey(".alpha")) {
            Tensor a = t.get(".alpha");
            if (a.numel() != 1) throw bad(file, module + ".alpha", "holds " + a.numel() + " values, not one");
            alpha = (double) a.get(0);
            if (!Double.isFinite(alpha)) throw bad(file, module + ".alpha", "is " + alpha);
        }
        Found found = delta(file, module, t, alpha);
        Delta delta = found == null ? null : found.delta();
        Tensor bias = t.containsKey(".diff_b") ? t.get(".diff_b") : t.get(".lora_B.bias");
        String biasKey = module + (t.containsKey(".diff_b") ? ".diff_b" : ".lora_B.bias");
        if (delta == null && bias == null) {
            throw bad(file, module + t.keySet().iterator().next(), "has no weights (lora_up/lora_down, lora_A/lora_B, LoHa, LoKr or diff)");
        }
        int rows = target.rowsIn(shape.out());
        int widen = 0;
        if (delta != null) {
            if (delta.rows() != rows) {
                throw bad(file, found.rowsKey(), "gives a delta of " + delta.rows() + " rows, but " + describe(target, shape) + " has " + rows);
            }
            if (delta.cols() != shape.in()) widen = imgInColumns(file, found.colsKey(), target, shape, delta.cols(), model);
        }
        if (bias != null) {
            if (bias.rank() != 1 || bias.numel() != rows) {
                throw bad(file, biasKey, "has shape " + java.util.Arrays.toString(bias.shape()) + ", but " + describe(target, shape) + " has " + rows + " outputs");
            }
            requireFinite(file, biasKey, bias);
        }
        return new Patch(target, delta, bias, weight, widen, file, module + t.keySet().iterator().next());
    }

    /**
     * A delta of {@code cols} columns for a layer of other width: fine only for img_in, where a Canny/Depth control
     * LoRA's delta takes the latent and the control image's latent (twice the latent's width) on a base model, whose
     * img_in is then widened with zero weights for the new inputs as BFL's {@code optionally_expand_state_dict} does
     * (returns the new width), and a base model's LoRA on a control model covers the latent's inputs only (diffusers
     * pads it with zeros; returns 0). Anything else is an error naming {@code key}.
     */
    private static int imgInColumns(String file, String key, Target target, FluxTransformer.Shape shape, int cols, Model model) {
        FluxTransformer.Shape last = model.transformer().get("final_layer.linear");
        int latent = last == null ? -1 : last.out();
        boolean imgIn = target.component() == Target.Component.TRANSFORMER && target.module().equals("img_in");
        if (imgIn && shape.in() == latent && cols == 2 * latent) return cols;
        if (imgIn && shape.in() == 2 * latent && cols == latent) return 0;
        if (imgIn && cols == 2 * latent) {
            throw bad(file, key, "is a Canny/Depth control LoRA's (img_in with " + cols + " inputs: the latent's " + latent
                    + " and the control image's " + latent + "), but this model's img_in takes " + shape.in() + " inputs"
                    + (shape.in() > 2 * latent ? " (a FLUX.1 Fill model)" : "") + ": a control LoRA applies to a base FLUX.1 model ("
                    + latent + " inputs) or a Canny/Depth model (" + 2 * latent + ")");
        }
        throw bad(file, key, "gives a delta of " + cols + " columns, but " + describe(target, shape) + " takes " + shape.in() + " inputs");
    }

    /** Inputs of transformer layer {@code module} (stored with {@code stored}) once patched: widened by a control LoRA, else as stored. */
    public int inputs(String module, int stored) {
        int in = stored;
        for (Patch p : patches) {
            if (p.target().component() == Target.Component.TRANSFORMER && p.target().module().equals(module)) in = Math.max(in, p.widenTo());
        }
        return in;
    }

    /** A module's weight delta, with the keys that set its rows and its columns (named when they do not fit). */
    private record Found(Delta delta, String rowsKey, String colsKey) {}

    /** The weight delta of a module, checked: null when it has none. */
    private static Found delta(String file, String module, Map<String, Tensor> t, Double alpha) {
        String[][] pairs = {{".lora_up.weight", ".lora_down.weight"}, {".lora_B.weight", ".lora_A.weight"}, {".up.weight", ".down.weight"}};
        for (String[] p : pairs) {
            if (!t.containsKey(p[0]) && !t.containsKey(p[1])) continue;
            Tensor up = t.get(p[0]), down = t.get(p[1]);
            if (up == null || down == null) {
                String has = up == null ? p[1] : p[0], lacks = up == null ? p[0] : p[1];
                throw bad(file, module + has, "has no matching '" + module + lacks + "'");
            }
            matrix(file, module + p[0], up);
            matrix(file, module + p[1], down);
            if (up.cols() != down.rows()) {
                throw bad(file, module + p[0], "has rank " + up.cols() + " but '" + module + p[1] + "' has rank " + down.rows());
            }
            // XLabs files carry no alpha; an alpha stored anyway is ignored there, as x-flux does.
            double scale = alpha == null || p[0].equals(".up.weight") ? 1 : alpha / down.rows();
            return new Found(new Delta.LowRank(up, down, scale), module + p[0], module + p[1]);
        }
        if (t.keySet().stream().anyMatch(k -> k.startsWith(".hada_"))) {
            Tensor[] w = new Tensor[4];
            String[] names = {".hada_w1_a", ".hada_w1_b", ".hada_w2_a", ".hada_w2_b"};
            for (int i = 0; i < 4; i++) {
                w[i] = t.get(names[i]);
                if (w[i] == null) throw bad(file, module + t.keySet().stream().filter(k -> k.startsWith(".hada_")).findFirst().orElseThrow(),
                        "is a LoHa module without '" + module + names[i] + "'");
                matrix(file, module + names[i], w[i]);
            }
            if (w[0].cols() != w[1].rows() || w[2].cols() != w[3].rows()) {
                throw bad(file, module + ".hada_w1_a", "LoHa ranks disagree: w1_a " + shape(w[0]) + ", w1_b " + shape(w[1]) + ", w2_a " + shape(w[2]) + ", w2_b " + shape(w[3]));
            }
            if (w[0].rows() != w[2].rows() || w[1].cols() != w[3].cols()) {
                throw bad(file, module + ".hada_w2_a", "LoHa halves give different shapes: [" + w[0].rows() + ", " + w[1].cols() + "] and [" + w[2].rows() + ", " + w[3].cols() + "]");
            }
            return new Found(new Delta.Loha(w[0], w[1], w[2], w[3], alpha == null ? 1 : alpha / w[1].rows()), module + names[0], module + names[1]);
        }
        if (t.keySet().stream().anyMatch(k -> k.startsWith(".lokr_"))) {
            Tensor w1 = t.get(".lokr_w1"), w1a = t.get(".lokr_w1_a"), w1b = t.get(".lokr_w1_b");
            Tensor w2 = t.get(".lokr_w2"), w2a = t.get(".lokr_w2_a"), w2b = t.get(".lokr_w2_b");
            int[] s1 = lokrFactor(file, module, "w1", w1, w1a, w1b), s2 = lokrFactor(file, module, "w2", w2, w2a, w2b);
            double scale = 1;
            if (alpha != null && w2 == null) scale = alpha / w2b.rows();
            else if (alpha != null && w1 == null) scale = alpha / w1b.rows();
            String key = module + (w1 != null ? ".lokr_w1" : ".lokr_w1_a");
            return new Found(new Delta.Lokr(Delta.Lokr.factor(w1, w1a, w1b), s1[0], s1[1], Delta.Lokr.factor(w2, w2a, w2b), s2[0], s2[1], scale), key, key);
        }
        if (t.containsKey(".diff")) {
            Tensor d = t.get(".diff");
            matrix(file, module + ".diff", d);
            return new Found(new Delta.Full(d), module + ".diff", module + ".diff");
        }
        return null;
    }

    /** [rows, cols] of a LoKr factor, stored whole or as a product; its tensors checked. */
    private static int[] lokrFactor(String file, String module, String name, Tensor whole, Tensor a, Tensor b) {
        if (whole != null) {
            matrix(file, module + ".lokr_" + name, whole);
            return new int[]{whole.rows(), whole.cols()};
        }
        if (a == null || b == null) {
            throw bad(file, module + ".lokr_" + name + (a == null ? "_b" : "_a"), "is a LoKr module without '" + module + ".lokr_" + name
                    + "' or both '_a' and '_b' halves of it");
        }
        matrix(file, module + ".lokr_" + name + "_a", a);
        matrix(file, module + ".lokr_" + name + "_b", b);
        if (a.cols() != b.rows()) {
            throw bad(file, module + ".lokr_" + name + "_a", "has rank " + a.cols() + " but '" + module + ".lokr_" + name + "_b' has rank " + b.rows());
        }
        return new int[]{a.rows(), b.cols()};
    }

    private static void matrix(String file, String key, Tensor t) {
        if (t.rank() != 2) throw bad(file, key, "has shape " + shape(t) + ", not a matrix");
        if (!t.dtype().isFloat()) throw bad(file, key, "is " + t.dtype() + ", not a floating-point tensor");
        requireFinite(file, key, t);
    }

    private static void requireFinite(String file, String key, Tensor t) {
        long n = t.numel();
        for (long i = 0; i < n; i++) {
            float v = t.get(i);
            if (!Float.isFinite(v)) throw bad(file, key, "holds " + v + " (element " + i + "): the LoRA is broken");
        }
    }

    private static String describe(Target t, FluxTransformer.Shape shape) {
        String what = (t.component() == Target.Component.CLIP ? "CLIP-L layer " : "layer ") + t.module() + " [" + shape.out() + ", " + shape.in() + "]";
        return t.rows() < 0 ? what : "rows [" + t.row() + ", " + (t.row() + t.rows()) + ") of " + what;
    }

    private static String shape(Tensor t) { return java.util.Arrays.toString(t.shape()); }

    private static ModelFormatException bad(String file, String key, String problem) {
        return new ModelFormatException(file, "LoRA key '" + key + "' " + problem);
    }

    /** The patches of transformer layer {@code module}, in order. */
    List<Patch> patchesOf(Target.Component c, String module) {
        List<Patch> out = new ArrayList<>();
        for (Patch p : patches) if (p.target().component() == c && p.target().module().equals(module)) out.add(p);
        return out;
    }

    /** CLIP-L's linear layers a LoRA may patch, by HF name without {@code text_model.}, from its sizes. */
    public static Map<String, FluxTransformer.Shape> clipLayers(int layers, int width, int mlp) {
        Map<String, FluxTransformer.Shape> m = new LinkedHashMap<>();
        for (int n = 0; n < layers; n++) {
            String p = "encoder.layers." + n + ".";
            for (String c : List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj")) {
                m.put(p + c, new FluxTransformer.Shape(width, width));
            }
            m.put(p + "mlp.fc1", new FluxTransformer.Shape(mlp, width));
            m.put(p + "mlp.fc2", new FluxTransformer.Shape(width, mlp));
        }
        return m;
    }

    /**
     * The CLIP-L checkpoint {@code ck} with every patched weight and bias replaced by its merged float32 copy,
     * allocated from {@code copies} (CLIP is small, so its weights are merged whatever their dtype).
     */
    public Checkpoint patchClip(Checkpoint ck, Arena copies) {
        String anchor = "encoder.layers.0.self_attn.q_proj.weight";
        String prefix = ck.names().stream().filter(n -> n.endsWith(anchor)).findFirst()
                .map(n -> n.substring(0, n.length() - anchor.length())).orElse("");
        Map<String, Tensor> replaced = new LinkedHashMap<>();
        byModule(Target.Component.CLIP).forEach((module, ps) -> {
            List<Patch> weights = ps.stream().filter(p -> p.delta() != null).toList();
            if (!weights.isEmpty()) {
                Tensor w = ck.get(prefix + module + ".weight");
                replaced.put(prefix + module + ".weight", Merge.rows(w, w.name(), 0, w.rows(), w.cols(), w.rows(), weights, copies));
            }
            if (ps.stream().anyMatch(p -> p.bias() != null)) {
                Tensor b = ck.get(prefix + module + ".bias");
                float[] merged = Merge.bias(b.toFloats(), 0, (int) b.numel(), ps);
                MemorySegment seg = copies.allocate(4L * merged.length, 64);
                MemorySegment.copy(merged, 0, seg, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, merged.length);
                replaced.put(prefix + module + ".bias", new Tensor(b.name(), DType.F32, b.shape(), seg, "LoRA-merged " + b.name()));
            }
        });
        return ck.withReplaced(replaced);
    }

    /** Modules by target, for the CLIP overlay. */
    Map<String, List<Patch>> byModule(Target.Component c) {
        Map<String, List<Patch>> m = new LinkedHashMap<>();
        for (Patch p : patches) if (p.target().component() == c) m.computeIfAbsent(p.target().module(), k -> new ArrayList<>()).add(p);
        return m;
    }

    @Override
    public void close() { files.forEach(LoraFile::close); }
}
