package fluxj.tools;

import fluxj.io.Checkpoint;
import fluxj.io.ModelKind.Layout;
import fluxj.io.SafeTensorsWriter;
import fluxj.io.TensorSpec;
import fluxj.tensor.DType;
import fluxj.tensor.Parallel;
import fluxj.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Random-weight checkpoints with the real FLUX.1 component layouts (names and shapes of flux1-*.safetensors,
 * ae.safetensors, clip_l.safetensors, t5xxl_fp16.safetensors, DistillT5, or their diffusers / Hugging Face forms),
 * for tests and for benchmarks at real sizes without the real weights.
 *
 * <p>Values are uniform with sane magnitudes so forward passes stay finite: weights with standard deviation
 * 1/sqrt(fan_in), norm scales near 1, biases near 0. They are a pure function of the seed and the tensor name
 * (each tensor is drawn in fixed-size chunks, one generator per chunk), whatever the thread count. Files stream
 * to disk one tensor at a time through {@link SafeTensorsWriter}.
 */
public final class RandomCheckpoint {
    private RandomCheckpoint() {}

    /** Elements per independently seeded chunk: the unit of parallel work. */
    private static final int CHUNK = 1 << 20;

    /** How a tensor's values are drawn. */
    public sealed interface Init {
        /** Uniform with standard deviation 1/sqrt(fanIn), so a layer keeps its input's scale. */
        record FanIn(long fanIn) implements Init {}

        /** Uniform in {@code center ± spread}. */
        record Around(float center, float spread) implements Init {}

        /** 0, 1, 2, ... as I64 (position ids). */
        record Arange() implements Init {}
    }

    /** One tensor to generate. */
    public record Planned(TensorSpec spec, Init init) {}

    /** FLUX.1 transformer sizes; {@link #real()} is FLUX.1-schnell (add guidance for dev). */
    public record FluxShape(int hidden, int inChannels, int contextDim, int vecDim, int mlpHidden, int doubleBlocks, int singleBlocks,
                            boolean guidance) {
        public static FluxShape real() { return new FluxShape(3072, 64, 4096, 768, 12288, 19, 38, false); }
    }

    /** T5 v1.1 encoder sizes; projectOut > 0 adds DistillT5's final_projection. */
    public record T5Shape(int dModel, int layers, int heads, int dKv, int dFf, int vocab, int buckets, int projectOut) {
        public static T5Shape xxl() { return new T5Shape(4096, 24, 64, 64, 10240, 32128, 32, 0); }

        /** DistillT5: T5-base projected to FLUX's 4096-wide context. */
        public static T5Shape distill() { return new T5Shape(768, 12, 12, 64, 2048, 32128, 32, 4096); }
    }

    /** CLIP text model sizes; {@link #large()} is CLIP-L as FLUX.1 uses it. */
    public record ClipShape(int width, int layers, int heads, int mlp, int vocab, int positions) {
        public static ClipShape large() { return new ClipShape(768, 12, 12, 3072, 49408, 77); }
    }

    /** Autoencoder sizes; {@link #flux()} is FLUX.1's ae. */
    public record VaeShape(int ch, List<Integer> chMult, int resBlocks, int zChannels) {
        public VaeShape {
            chMult = List.copyOf(chMult);
        }

        public static VaeShape flux() { return new VaeShape(128, List.of(1, 2, 4, 4), 2, 16); }
    }

    /** FP8 (given as {@link DType#F8_E4M3}) stores matrices as float8_e4m3fn and vectors as BF16, like FP8 FLUX files. */
    private static final class Plan {
        final List<Planned> list = new ArrayList<>();
        final DType dtype;

        Plan(DType dtype) { this.dtype = dtype; }

        DType floatType(int rank) { return dtype.isFp8() ? (rank >= 2 ? dtype : DType.BF16) : dtype; }

        void add(String name, Init init, long... shape) { list.add(new Planned(new TensorSpec(name, floatType(shape.length), shape), init)); }

        /** A linear or conv weight [out, in, ...]: fan-in is everything but the first dimension. */
        void weight(String name, long... shape) {
            long fanIn = 1;
            for (int i = 1; i < shape.length; i++) fanIn *= shape[i];
            add(name, new Init.FanIn(fanIn), shape);
        }

        void linear(String name, long out, long in) {
            weight(name + ".weight", out, in);
            add(name + ".bias", new Init.Around(0, 0.02f), out);
        }

        void conv(String name, long out, long in, int k) {
            weight(name + ".weight", out, in, k, k);
            add(name + ".bias", new Init.Around(0, 0.02f), out);
        }

        void scale(String name, long n) { add(name, new Init.Around(1, 0.05f), n); }

        void norm(String name, long n) {
            scale(name + ".weight", n);
            add(name + ".bias", new Init.Around(0, 0.02f), n);
        }
    }

    /** The FLUX.1 transformer; BFL names exactly as flux1-schnell.safetensors / flux1-dev.safetensors, or diffusers names. */
    public static List<Planned> flux(FluxShape s, Layout layout, DType dtype) {
        Plan p = new Plan(dtype);
        long h = s.hidden(), mlp = s.mlpHidden(), hd = 128, out = 64;
        if (layout == Layout.BFL) {
            p.linear("img_in", h, s.inChannels());
            p.linear("txt_in", h, s.contextDim());
            p.linear("time_in.in_layer", h, 256);
            p.linear("time_in.out_layer", h, h);
            p.linear("vector_in.in_layer", h, s.vecDim());
            p.linear("vector_in.out_layer", h, h);
            if (s.guidance()) {
                p.linear("guidance_in.in_layer", h, 256);
                p.linear("guidance_in.out_layer", h, h);
            }
            for (int i = 0; i < s.doubleBlocks(); i++) {
                for (String stream : List.of("img", "txt")) {
                    String b = "double_blocks." + i + "." + stream;
                    p.scale(b + "_attn.norm.key_norm.scale", hd);
                    p.scale(b + "_attn.norm.query_norm.scale", hd);
                    p.linear(b + "_attn.proj", h, h);
                    p.linear(b + "_attn.qkv", 3 * h, h);
                    p.linear(b + "_mlp.0", mlp, h);
                    p.linear(b + "_mlp.2", h, mlp);
                    p.linear(b + "_mod.lin", 6 * h, h);
                }
            }
            for (int i = 0; i < s.singleBlocks(); i++) {
                String b = "single_blocks." + i;
                p.linear(b + ".linear1", 3 * h + mlp, h);
                p.linear(b + ".linear2", h, h + mlp);
                p.linear(b + ".modulation.lin", 3 * h, h);
                p.scale(b + ".norm.key_norm.scale", hd);
                p.scale(b + ".norm.query_norm.scale", hd);
            }
            p.linear("final_layer.adaLN_modulation.1", 2 * h, h);
            p.linear("final_layer.linear", out, h);
        } else {
            p.linear("x_embedder", h, s.inChannels());
            p.linear("context_embedder", h, s.contextDim());
            p.linear("time_text_embed.timestep_embedder.linear_1", h, 256);
            p.linear("time_text_embed.timestep_embedder.linear_2", h, h);
            p.linear("time_text_embed.text_embedder.linear_1", h, s.vecDim());
            p.linear("time_text_embed.text_embedder.linear_2", h, h);
            if (s.guidance()) {
                p.linear("time_text_embed.guidance_embedder.linear_1", h, 256);
                p.linear("time_text_embed.guidance_embedder.linear_2", h, h);
            }
            for (int i = 0; i < s.doubleBlocks(); i++) {
                String b = "transformer_blocks." + i + ".";
                for (String x : List.of("to_q", "to_k", "to_v", "add_q_proj", "add_k_proj", "add_v_proj", "to_out.0", "to_add_out")) {
                    p.linear(b + "attn." + x, h, h);
                }
                for (String x : List.of("norm_q", "norm_k", "norm_added_q", "norm_added_k")) p.scale(b + "attn." + x + ".weight", hd);
                for (String ff : List.of("ff", "ff_context")) {
                    p.linear(b + ff + ".net.0.proj", mlp, h);
                    p.linear(b + ff + ".net.2", h, mlp);
                }
                p.linear(b + "norm1.linear", 6 * h, h);
                p.linear(b + "norm1_context.linear", 6 * h, h);
            }
            for (int i = 0; i < s.singleBlocks(); i++) {
                String b = "single_transformer_blocks." + i + ".";
                for (String x : List.of("to_q", "to_k", "to_v")) p.linear(b + "attn." + x, h, h);
                p.scale(b + "attn.norm_q.weight", hd);
                p.scale(b + "attn.norm_k.weight", hd);
                p.linear(b + "norm.linear", 3 * h, h);
                p.linear(b + "proj_mlp", mlp, h);
                p.linear(b + "proj_out", h, h + mlp);
            }
            p.linear("norm_out.linear", 2 * h, h);
            p.linear("proj_out", out, h);
        }
        return p.list;
    }

    /**
     * A T5 encoder with Hugging Face names (shared.weight, encoder.block.N...), as t5xxl_fp16.safetensors and the diffusers
     * text_encoder_2 hold them. With projectOut, DistillT5: BFL layout = DistillT5ComfyUI names, diffusers layout = the
     * Hugging Face class's names (encoder.shared.weight, encoder.encoder.block.N...); both add final_projection.0/.3.
     */
    public static List<Planned> t5(T5Shape s, Layout layout, DType dtype) {
        Plan p = new Plan(dtype);
        String t = s.projectOut() > 0 && layout == Layout.DIFFUSERS ? "encoder." : "";
        long d = s.dModel(), inner = (long) s.heads() * s.dKv();
        // Unit-variance embeddings: T5 has no embedding scale, and its pre-norms only rescale what they see.
        p.add(t + "shared.weight", new Init.Around(0, 1.7f), s.vocab(), d);
        for (int i = 0; i < s.layers(); i++) {
            String b = t + "encoder.block." + i + ".layer.";
            for (String x : List.of("q", "k", "v")) p.weight(b + "0.SelfAttention." + x + ".weight", inner, d);
            p.weight(b + "0.SelfAttention.o.weight", d, inner);
            if (i == 0) p.add(b + "0.SelfAttention.relative_attention_bias.weight", new Init.Around(0, 0.5f), s.buckets(), s.heads());
            p.scale(b + "0.layer_norm.weight", d);
            p.weight(b + "1.DenseReluDense.wi_0.weight", s.dFf(), d);
            p.weight(b + "1.DenseReluDense.wi_1.weight", s.dFf(), d);
            p.weight(b + "1.DenseReluDense.wo.weight", d, s.dFf());
            p.scale(b + "1.layer_norm.weight", d);
        }
        p.scale(t + "encoder.final_layer_norm.weight", d);
        if (s.projectOut() > 0) {
            p.weight("final_projection.0.weight", s.projectOut(), d);
            p.weight("final_projection.3.weight", s.projectOut(), s.projectOut());
        }
        return p.list;
    }

    /** A CLIP text model with Hugging Face names; the BFL layout (clip_l.safetensors) also holds the I64 position_ids. */
    public static List<Planned> clip(ClipShape s, Layout layout, DType dtype) {
        Plan p = new Plan(dtype);
        long w = s.width();
        String e = "text_model.embeddings.";
        p.add(e + "token_embedding.weight", new Init.Around(0, 0.05f), s.vocab(), w);
        p.add(e + "position_embedding.weight", new Init.Around(0, 0.02f), s.positions(), w);
        if (layout == Layout.BFL) p.list.add(new Planned(new TensorSpec(e + "position_ids", DType.I64, new long[] {1, s.positions()}), new Init.Arange()));
        for (int i = 0; i < s.layers(); i++) {
            String b = "text_model.encoder.layers." + i + ".";
            p.norm(b + "layer_norm1", w);
            p.norm(b + "layer_norm2", w);
            p.linear(b + "mlp.fc1", s.mlp(), w);
            p.linear(b + "mlp.fc2", w, s.mlp());
            for (String x : List.of("q_proj", "k_proj", "v_proj", "out_proj")) p.linear(b + "self_attn." + x, w, w);
        }
        p.norm("text_model.final_layer_norm", w);
        return p.list;
    }

    /** The autoencoder with BFL names (ae.safetensors: attention q/k/v as [C,C,1,1] convs) or diffusers names ([C,C] linears). */
    public static List<Planned> vae(VaeShape s, Layout layout, DType dtype) {
        Plan p = new Plan(dtype);
        boolean bfl = layout == Layout.BFL;
        int levels = s.chMult().size();
        long ch = s.ch(), z = s.zChannels();
        p.conv("encoder.conv_in", ch, 3, 3);
        long in = ch;
        for (int i = 0; i < levels; i++) {
            long out = ch * s.chMult().get(i);
            for (int j = 0; j < s.resBlocks(); j++) {
                resBlock(p, bfl ? "encoder.down." + i + ".block." + j : "encoder.down_blocks." + i + ".resnets." + j, in, out, bfl);
                in = out;
            }
            if (i != levels - 1) p.conv(bfl ? "encoder.down." + i + ".downsample.conv" : "encoder.down_blocks." + i + ".downsamplers.0.conv", in, in, 3);
        }
        mid(p, "encoder", in, bfl);
        p.norm(bfl ? "encoder.norm_out" : "encoder.conv_norm_out", in);
        p.conv("encoder.conv_out", 2 * z, in, 3);

        in = ch * s.chMult().get(levels - 1);
        p.conv("decoder.conv_in", in, z, 3);
        mid(p, "decoder", in, bfl);
        for (int i = levels - 1; i >= 0; i--) {
            long out = ch * s.chMult().get(i);
            String up = bfl ? "decoder.up." + i : "decoder.up_blocks." + (levels - 1 - i);
            for (int j = 0; j <= s.resBlocks(); j++) {
                resBlock(p, up + (bfl ? ".block." : ".resnets.") + j, in, out, bfl);
                in = out;
            }
            if (i != 0) p.conv(up + (bfl ? ".upsample.conv" : ".upsamplers.0.conv"), in, in, 3);
        }
        p.norm(bfl ? "decoder.norm_out" : "decoder.conv_norm_out", in);
        p.conv("decoder.conv_out", 3, in, 3);
        return p.list;
    }

    private static void resBlock(Plan p, String b, long in, long out, boolean bfl) {
        p.norm(b + ".norm1", in);
        p.conv(b + ".conv1", out, in, 3);
        p.norm(b + ".norm2", out);
        p.conv(b + ".conv2", out, out, 3);
        if (in != out) p.conv(b + (bfl ? ".nin_shortcut" : ".conv_shortcut"), out, in, 1);
    }

    private static void mid(Plan p, String side, long c, boolean bfl) {
        String m = side + (bfl ? ".mid." : ".mid_block.");
        resBlock(p, m + (bfl ? "block_1" : "resnets.0"), c, c, bfl);
        if (bfl) {
            p.norm(m + "attn_1.norm", c);
            for (String x : List.of("q", "k", "v", "proj_out")) p.conv(m + "attn_1." + x, c, c, 1);
        } else {
            p.norm(m + "attentions.0.group_norm", c);
            for (String x : List.of("to_q", "to_k", "to_v", "to_out.0")) p.linear(m + "attentions.0." + x, c, c);
        }
        resBlock(p, m + (bfl ? "block_2" : "resnets.1"), c, c, bfl);
    }

    /** Writes the planned tensors to {@code out} with {@code __metadata__ {"format": "pt"}}, drawing values from {@code seed}. */
    public static void write(Path out, List<Planned> plan, long seed) throws IOException {
        Map<String, Init> inits = new HashMap<>();
        List<TensorSpec> specs = new ArrayList<>();
        for (Planned p : plan) {
            inits.put(p.spec().name(), p.init());
            specs.add(p.spec());
        }
        SafeTensorsWriter.write(out, Map.of("format", "pt"), specs, (s, seg) -> fill(s, inits.get(s.name()), seg, seed));
    }

    /**
     * The planned tensors drawn into native memory of {@code arena} (the same values {@link #write} would store):
     * a checkpoint for benchmarks at real sizes that never touches the disk. Closing the arena frees it.
     */
    public static Checkpoint inMemory(String description, List<Planned> plan, long seed, Arena arena) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Planned p : plan) {
            TensorSpec s = p.spec();
            MemorySegment seg = arena.allocate(s.numel() * s.dtype().byteSize(), 64);
            fill(s, p.init(), seg, seed);
            tensors.put(s.name(), new Tensor(s.name(), s.dtype(), s.shape(), seg, description));
        }
        return Checkpoint.of(description, tensors);
    }

    /** Fills one tensor, its chunks spread over the cores. */
    static void fill(TensorSpec s, Init init, MemorySegment out, long seed) {
        long n = s.numel();
        long base = mix(seed * 0x9E3779B97F4A7C15L + s.name().hashCode());
        int chunks = Math.toIntExact((n + CHUNK - 1) / CHUNK);
        Parallel.forEach(chunks, c -> fillRange(s.dtype(), init, out, (long) c * CHUNK, Math.min(n, (long) (c + 1) * CHUNK),
                new SplittableRandom(mix(base + c))));
    }

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static void fillRange(DType dt, Init init, MemorySegment out, long from, long to, SplittableRandom rnd) {
        if (init instanceof Init.Arange) {
            if (dt != DType.I64) throw new IllegalArgumentException("position ids are I64, not " + dt);
            for (long i = from; i < to; i++) out.set(I64, i * 8, i);
            return;
        }
        float center, half;
        switch (init) {
            case Init.FanIn f -> { center = 0; half = (float) Math.sqrt(3.0 / f.fanIn()); }
            case Init.Around a -> { center = a.center(); half = a.spread(); }
            case Init.Arange a -> throw new IllegalStateException("handled above");
        }
        // Two 24-bit uniforms per 64-bit draw, mapped to center + half * [-1, 1).
        float k = half * 0x1p-23f, c = center - half;
        for (long i = from; i < to; i += 2) {
            long r = rnd.nextLong();
            put(dt, out, i, c + k * (float) (r >>> 40));
            if (i + 1 < to) put(dt, out, i + 1, c + k * (float) ((r >>> 8) & 0xFFFFFF));
        }
    }

    private static void put(DType dt, MemorySegment out, long i, float v) {
        switch (dt) {
            case BF16 -> out.set(I16, i * 2, DType.floatToBf16(v));
            case F16 -> out.set(I16, i * 2, Float.floatToFloat16(v));
            case F32 -> out.set(F32, i * 4, v);
            case F64 -> out.set(F64, i * 8, v);
            case F8_E4M3 -> out.set(ValueLayout.JAVA_BYTE, i, DType.floatToFp8E4M3(v));
            case F8_E5M2 -> out.set(ValueLayout.JAVA_BYTE, i, (byte) (Float.floatToFloat16(v) >> 8));
            default -> throw new IllegalArgumentException("random values need a float dtype, not " + dt);
        }
    }

    /** SplitMix64's finaliser: decorrelates neighbouring seeds. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
