package fluxj.bench;

import fluxj.flux.FluxConfig;
import fluxj.io.Checkpoint;
import fluxj.tensor.DType;
import fluxj.tensor.Parallel;
import fluxj.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A FLUX transformer with random weights under BFL names, built in memory (benchmarks and tests of sizes no
 * fixture has). Weights are uniform in +-1/sqrt(fan in), so activations keep their scale through the blocks.
 */
public final class RandomFlux {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final DType dtype;
    private final Arena arena;
    private long seed;

    private RandomFlux(DType dtype, Arena arena, long seed) {
        this.dtype = dtype;
        this.arena = arena;
        this.seed = seed;
    }

    /** The tensors of a model of size {@code c} (axes and theta are not stored), matrices in {@code dtype} (F32 or BF16). */
    public static Checkpoint build(FluxConfig c, DType dtype, long seed, Arena arena) {
        if (dtype != DType.F32 && dtype != DType.BF16) throw new IllegalArgumentException("random weights are F32 or BF16, not " + dtype);
        RandomFlux r = new RandomFlux(dtype, arena, seed);
        int h = c.hidden(), m = c.mlpHidden(), d = c.headDim();
        r.linear("img_in", h, c.inChannels(), true);
        r.linear("txt_in", h, c.contextDim(), true);
        r.embedder("time_in", h, 256);
        r.embedder("vector_in", h, c.vecDim());
        if (c.guidanceEmbed()) r.embedder("guidance_in", h, 256);
        for (int i = 0; i < c.depth(); i++) {
            for (String s : new String[] {"img", "txt"}) {
                String p = "double_blocks." + i + "." + s;
                r.linear(p + "_mod.lin", 6 * h, h, true);
                r.linear(p + "_attn.qkv", 3 * h, h, c.qkvBias());
                r.norm(p + "_attn.norm.query_norm.scale", d);
                r.norm(p + "_attn.norm.key_norm.scale", d);
                r.linear(p + "_attn.proj", h, h, true);
                r.linear(p + "_mlp.0", m, h, true);
                r.linear(p + "_mlp.2", h, m, true);
            }
        }
        for (int i = 0; i < c.depthSingle(); i++) {
            String p = "single_blocks." + i + ".";
            r.linear(p + "modulation.lin", 3 * h, h, true);
            r.linear(p + "linear1", 3 * h + m, h, true);
            r.linear(p + "linear2", h, h + m, true);
            r.norm(p + "norm.query_norm.scale", d);
            r.norm(p + "norm.key_norm.scale", d);
        }
        r.linear("final_layer.adaLN_modulation.1", 2 * h, h, true);
        r.linear("final_layer.linear", c.outChannels(), h, true);
        return Checkpoint.of("random FLUX transformer (hidden " + h + ", " + c.depth() + "+" + c.depthSingle() + " blocks)", r.tensors);
    }

    private void embedder(String name, int h, int in) {
        linear(name + ".in_layer", h, in, true);
        linear(name + ".out_layer", h, h, true);
    }

    private void linear(String name, int out, int in, boolean bias) {
        float a = (float) (1 / Math.sqrt(in));
        add(name + ".weight", dtype, new long[] {out, in}, -a, a);
        if (bias) add(name + ".bias", dtype, new long[] {out}, -0.02f, 0.02f);
    }

    private void norm(String name, int d) {
        add(name, dtype, new long[] {d}, 0.9f, 1.1f);
    }

    private void add(String name, DType dt, long[] shape, float lo, float hi) {
        tensors.put(name, uniform(name, dt, shape, lo, hi, seed++, arena));
    }

    /** A tensor of values uniform in [lo, hi), stored as F32 or BF16 in {@code arena}. */
    public static Tensor uniform(String name, DType dt, long[] shape, float lo, float hi, long seed, Arena arena) {
        long n = 1;
        for (long s : shape) n *= s;
        MemorySegment seg = arena.allocate(n * dt.byteSize(), 8);
        long count = n, base = seed * 0x9E3779B97F4A7C15L;
        int chunks = (int) Math.min(1024, Math.max(1, n / 65536));
        Parallel.forEach(chunks, ch -> {
            SplittableRandom rnd = new SplittableRandom(base + ch);
            for (long i = count * ch / chunks, end = count * (ch + 1) / chunks; i < end; i++) {
                float v = lo + (hi - lo) * (float) rnd.nextDouble();
                if (dt == DType.BF16) seg.set(I16, 2 * i, DType.floatToBf16(v));
                else seg.set(F32, 4 * i, v);
            }
        });
        return new Tensor(name, dt, shape, seg, "random");
    }
}
