package fluxj.lora;

import fluxj.flux.Linear;
import fluxj.flux.WeightPatcher;
import fluxj.tensor.DType;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

/**
 * Applies a {@link LoraSet} to the transformer as it is built. A float weight is merged into a float32 copy
 * (when merging); any other weight keeps its stored form and gets terms beside its matmul: the LoRA's own
 * factors for low-rank modules ({@code y += weight * alpha/r * up(down x)}), a float32 delta for LoHa, LoKr and
 * full differences. Biases are always merged (they are float32 arrays already).
 */
final class TransformerPatcher implements WeightPatcher {
    private final LoraSet set;
    private final Arena arena;
    private final boolean merge;

    TransformerPatcher(LoraSet set, Arena arena, boolean merge) {
        this.set = set;
        this.arena = arena;
        this.merge = merge;
    }

    static boolean mergeable(DType d) {
        return d == DType.F32 || d == DType.F16 || d == DType.BF16 || d == DType.F64;
    }

    @Override
    public int inputs(String module, int stored) { return set.inputs(module, stored); }

    @Override
    public Linear.Part linear(String module, int row, Linear.Part part) {
        int layerRows = set.model().transformer().get(module).out();
        List<Patch> patches = new ArrayList<>();
        for (Patch p : set.patchesOf(Target.Component.TRANSFORMER, module)) {
            for (int i = 0; i < part.out(); i++) {
                if (Merge.deltaRow(p.target(), row + i, layerRows) >= 0) {
                    patches.add(p);
                    break;
                }
            }
        }
        if (patches.isEmpty()) return part;
        float[] bias = part.bias();
        if (patches.stream().anyMatch(p -> p.bias() != null)) {
            if (bias == null) {
                Patch p = patches.stream().filter(q -> q.bias() != null).findFirst().orElseThrow();
                throw new ModelFormatException(p.file(), "LoRA key '" + p.key() + "' patches the bias of " + module + ", which has none in this model");
            }
            bias = Merge.bias(bias, row, layerRows, patches);
        }
        List<Patch> weights = patches.stream().filter(p -> p.delta() != null).toList();
        if (weights.isEmpty()) return new Linear.Part(part.weight(), bias, part.terms());
        Tensor w = part.weight();
        int in = set.inputs(module, w.cols());
        // A widened layer (a control LoRA's img_in) or a delta narrower than its layer has no stored weight of its
        // width to run beside: merged into a float32 copy (zeros for the inputs the stored weight lacks) whatever
        // the stored dtype, as a float patch. Only img_in is ever so; it is small.
        boolean padded = in != w.cols() || weights.stream().anyMatch(p -> p.delta().cols() != in);
        boolean lowRankOnly = weights.stream().allMatch(p -> p.delta() instanceof Delta.LowRank);
        if (padded || mergeable(w.dtype()) && (merge || !lowRankOnly)) {
            Tensor merged = Merge.rows(w, w.name(), row, part.out(), in, layerRows, weights, arena);
            return new Linear.Part(merged, bias, part.terms());
        }
        List<Linear.Term> terms = new ArrayList<>(part.terms());
        for (Patch p : weights) terms.addAll(terms(p, row, part.out(), w.cols(), layerRows));
        return new Linear.Part(w, bias, terms);
    }

    /** The terms that add patch {@code p} to part rows [row, row + n) of a layer of {@code layerRows} rows. */
    private List<Linear.Term> terms(Patch p, int row, int n, int cols, int layerRows) {
        List<Linear.Term> out = new ArrayList<>();
        int i = 0;
        while (i < n) {
            int local = Merge.deltaRow(p.target(), row + i, layerRows);
            if (local < 0) {
                i++;
                continue;
            }
            int len = 1;
            while (i + len < n && Merge.deltaRow(p.target(), row + i + len, layerRows) == local + len) len++;
            if (p.delta() instanceof Delta.LowRank lr) {
                out.add(new Linear.Term(lr.down(), lr.up().sliceRows(local, local + len), (float) (p.weight() * lr.scale()), i));
            } else {
                out.add(new Linear.Term(null, dense(p, local, len, cols), 1f, i));
            }
            i += len;
        }
        return out;
    }

    /** Rows [local, local + len) of {@code weight * delta} as a float32 matrix. */
    private Tensor dense(Patch p, int local, int len, int cols) {
        Target whole = new Target(p.target().component(), p.target().module(), 0, -1, false, p.target().format());
        Patch unshifted = new Patch(whole, p.delta(), null, p.weight(), 0, p.file(), p.key());
        return Merge.rows(null, p.key(), local, len, cols, p.delta().rows(), List.of(unshifted), arena);
    }

    @Override
    public float[] vector(String name, float[] stored) {
        float[] out = stored;
        for (LoraSet.VectorSet s : set.sets()) if (s.name().equals(name)) out = s.values().toFloats();
        return out;
    }
}
