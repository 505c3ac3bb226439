package fluxj.tools;

import fluxj.gguf.GgufNames;
import fluxj.gguf.GgufValue;
import fluxj.gguf.GgufWriter;
import fluxj.gguf.Quantizer;
import fluxj.io.TensorSpec;
import fluxj.tensor.DType;
import fluxj.tensor.Parallel;
import fluxj.tools.RandomCheckpoint.Init;
import fluxj.tools.RandomCheckpoint.Planned;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Random-weight GGUF files in the layouts people download: a FLUX transformer as city96 writes it (BFL names in
 * sorted order, 1-D tensors F32, the embedders and final layer BF16, every other matrix in the chosen type) or a
 * T5 encoder as llama.cpp writes it ({@code t5encoder}, llama.cpp names, norms F32, the relative attention bias
 * F16). Float tensors are drawn as {@link RandomCheckpoint} draws them; block-quantized ones are random blocks of
 * about the same range ({@link Quantizer#random}).
 */
public final class RandomGguf {
    private static final List<String> FLUX_KEPT = List.of("img_in.", "txt_in.", "time_in.", "vector_in.", "guidance_in.", "final_layer.");
    /** Blocks per independently seeded chunk. */
    private static final int CHUNK_BLOCKS = 1 << 15;

    private RandomGguf() {}

    /** The GGUF dtype of a planned tensor in a file of {@code type}. */
    static DType dtype(boolean t5, String name, TensorSpec s, DType type) {
        if (s.rank() == 1) return DType.F32;
        if (t5 && name.contains("relative_attention_bias")) return DType.F16;
        if (!t5 && type.isBlock() && FLUX_KEPT.stream().anyMatch(name::startsWith)) return DType.BF16;
        long[] shape = s.shape();
        return shape[shape.length - 1] % type.blockValues() == 0 ? type : DType.F16;
    }

    /** Writes the planned FLUX transformer ({@code t5} false) or T5 encoder as a GGUF file with its matrices in {@code type}. */
    public static void write(Path out, List<Planned> plan, boolean t5, DType type, long seed) throws IOException {
        Map<String, Init> inits = new HashMap<>();
        List<TensorSpec> specs = new ArrayList<>();
        for (Planned p : plan) {
            String name = t5 ? GgufNames.llamaT5Name(p.spec().name()) : p.spec().name();
            if (t5 && name.startsWith("enc.embed_tokens.")) continue;
            specs.add(new TensorSpec(name, dtype(t5, p.spec().name(), p.spec(), type), p.spec().shape()));
            inits.put(name, p.init());
        }
        if (!t5) specs.sort(Comparator.comparing(TensorSpec::name));
        Map<String, GgufValue> kv = new LinkedHashMap<>();
        kv.put("general.architecture", GgufValue.string(t5 ? "t5encoder" : "flux"));
        kv.put("general.quantization_version", GgufValue.u32(2));
        GgufWriter.write(out, kv, specs, (s, seg) -> {
            Init init = inits.get(s.name());
            if (!s.dtype().isBlock()) {
                RandomCheckpoint.fill(s, init, seg, seed);
                return;
            }
            float amplitude = switch (init) {
                case Init.FanIn f -> (float) Math.sqrt(3.0 / f.fanIn());
                case Init.Around a -> Math.abs(a.center()) + a.spread();
                case Init.Arange a -> throw new IllegalArgumentException("position ids are not quantized");
            };
            long blocks = s.numel() / s.dtype().blockValues(), bb = s.dtype().blockBytes();
            int chunks = Math.toIntExact((blocks + CHUNK_BLOCKS - 1) / CHUNK_BLOCKS);
            long base = seed * 0x9E3779B97F4A7C15L + s.name().hashCode();
            Parallel.forEach(chunks, c -> {
                long b0 = (long) c * CHUNK_BLOCKS, n = Math.min(CHUNK_BLOCKS, blocks - b0);
                Quantizer.random(s.dtype(), n, amplitude, new SplittableRandom(base + c), seg, b0 * bb);
            });
        });
    }
}
