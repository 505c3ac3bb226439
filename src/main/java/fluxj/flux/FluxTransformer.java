package fluxj.flux;

import fluxj.io.Checkpoint;
import fluxj.memory.BlockHook;
import fluxj.tensor.Ops;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The FLUX.1 flow-matching transformer (BFL flux/model.py): img_in / txt_in projections, the conditioning vector
 * from timestep, guidance (dev) and pooled CLIP embeddings, double-stream then single-stream blocks over the
 * joint sequence with 3-axis rope, and the final modulated projection. Weights stay in their stored dtype and
 * layout (BFL, ComfyUI-prefixed or diffusers; BF16, F16, F32, FP8 or ComfyUI-scaled FP8).
 */
public final class FluxTransformer {
    private static final System.Logger LOG = System.getLogger(FluxTransformer.class.getName());

    private final FluxConfig config;
    private final Linear imgIn, txtIn;
    private final Embeddings.MlpEmbedder timeIn, vectorIn, guidanceIn;
    private final List<DoubleStreamBlock> doubleBlocks;
    private final List<SingleStreamBlock> singleBlocks;
    private final LastLayer finalLayer;
    private final Rope rope;
    // Kept between forwards: every step of an image has the same sizes and positions. Each block overwrites the
    // arrays before reading them (they already pass from block to block), so leftovers never leak into a result.
    // Taken out while a forward runs, so a concurrent forward allocates its own.
    private final AtomicReference<Workspace> spareWorkspace = new AtomicReference<>();
    private final AtomicReference<Positions> positions = new AtomicReference<>();

    /** The rotary angles of a token layout, by its position ids. */
    private record Positions(float[] ids, Rope.Angles angles) {}
    private volatile BlockHook blockHook = BlockHook.NONE;
    private final Map<String, Shape> linears;
    private final Map<String, Integer> vectors;

    /** The [out, in] of a linear layer. */
    public record Shape(int out, int in) {}

    private FluxTransformer(FluxConfig config, Weights w) {
        this.config = config;
        int h = config.hidden();
        imgIn = w.linear("img_in", config.inChannels(), true, h);
        txtIn = w.linear("txt_in", config.contextDim(), true, h);
        timeIn = embedder(w, "time_in", Embeddings.TIME_DIM, h);
        vectorIn = embedder(w, "vector_in", config.vecDim(), h);
        guidanceIn = config.guidanceEmbed() ? embedder(w, "guidance_in", Embeddings.TIME_DIM, h) : null;
        doubleBlocks = new ArrayList<>();
        for (int i = 0; i < config.depth(); i++) doubleBlocks.add(DoubleStreamBlock.load(w, config, i));
        singleBlocks = new ArrayList<>();
        for (int i = 0; i < config.depthSingle(); i++) singleBlocks.add(SingleStreamBlock.load(w, config, i));
        finalLayer = LastLayer.load(w, config);
        rope = new Rope(config.axesDim(), config.theta());
        linears = Map.copyOf(w.linears());
        vectors = Map.copyOf(w.vectors());
    }

    /**
     * The transformer in {@code ck} (BFL names, optionally under ComfyUI's {@code model.diffusion_model.}, or
     * diffusers names). {@code config}: null, a diffusers config.json map, or a {@code flux_params} map (also
     * accepted wrapped as {@code {"flux_params": {...}}}); needed only when the head dim is not 128.
     */
    public static FluxTransformer load(Checkpoint ck, Map<String, Object> config) {
        return load(ck, config, WeightPatcher.NONE);
    }

    /** {@link #load(Checkpoint, Map)} with every weight passed through {@code patcher} (e.g. LoRA). */
    public static FluxTransformer load(Checkpoint ck, Map<String, Object> config, WeightPatcher patcher) {
        String prefix = ck.detectPrefix("model.diffusion_model.", "diffusion_model.");
        Checkpoint view = ck.withPrefix(prefix);
        FluxLayout layout = FluxLayout.detect(view);
        Weights w = new Weights(view, prefix, layout, patcher);
        FluxConfig c = FluxConfig.infer(w, config);
        FluxTransformer t = new FluxTransformer(c, w);
        w.requireAllUsed();
        LOG.log(System.Logger.Level.DEBUG, () -> "FLUX transformer from " + ck.description() + " (" + layout.name() + " layout): " + c);
        return t;
    }

    public FluxConfig config() { return config; }

    /** Every linear layer by BFL module name ({@code double_blocks.0.img_attn.qkv}, ...) with its [out, in]. */
    public Map<String, Shape> linears() { return linears; }

    /** Every RMSNorm scale by BFL name ({@code double_blocks.0.img_attn.norm.key_norm.scale}, ...) with its length. */
    public Map<String, Integer> vectors() { return vectors; }

    /**
     * Called around every block (double-stream blocks 0..depth-1, then single-stream blocks after them), e.g. by
     * the memory manager to stream block weights; {@link BlockHook#NONE} by default.
     */
    public void setBlockHook(BlockHook hook) { this.blockHook = hook == null ? BlockHook.NONE : hook; }

    /**
     * The velocity [imgLen, inChannels] for packed latents img [imgLen, inChannels] with position ids
     * imgIds [imgLen, 3], text embeddings txt [txtLen, contextDim] with ids txtIds [txtLen, 3], time t in [0, 1],
     * pooled CLIP vec [vecDim] and the distilled guidance (used by dev models only).
     */
    public float[] forward(float[] img, int imgLen, float[] imgIds, float[] txt, int txtLen, float[] txtIds,
                           float t, float[] vec, float guidance) {
        return forwardTimed(img, imgLen, imgIds, txt, txtLen, txtIds, t, vec, guidance).velocity();
    }

    /** A forward pass's result with the wall time of its stages (benchmarks, progress reports). */
    public record Timed(float[] velocity, long embedNanos, long[] doubleNanos, long[] singleNanos, long finalNanos) {}

    /** {@link #forward}, timing the embeddings, every block and the final layer. */
    public Timed forwardTimed(float[] img, int imgLen, float[] imgIds, float[] txt, int txtLen, float[] txtIds,
                              float t, float[] vec, float guidance) {
        int h = config.hidden(), axes = config.axesDim().length, len = imgLen + txtLen;
        requireLength("img", img, (long) imgLen * config.inChannels());
        requireLength("imgIds", imgIds, (long) imgLen * axes);
        requireLength("txt", txt, (long) txtLen * config.contextDim());
        requireLength("txtIds", txtIds, (long) txtLen * axes);
        requireLength("vec", vec, config.vecDim());
        long start = System.nanoTime();

        // Every block and the final layer read vec only through SiLU(vec): computed once here.
        float[] siluVec = timeIn.apply(Embeddings.timestep(t));
        if (guidanceIn != null) Ops.add(siluVec, guidanceIn.apply(Embeddings.timestep(guidance)), h);
        Ops.add(siluVec, vectorIn.apply(vec), h);
        Ops.silu(siluVec, h);

        float[] ids = new float[len * axes];
        System.arraycopy(imgIds, 0, ids, 0, imgLen * axes);
        System.arraycopy(txtIds, 0, ids, imgLen * axes, txtLen * axes);
        Positions known = positions.get();
        if (known == null || !Arrays.equals(known.ids(), ids)) positions.set(known = new Positions(ids, rope.angles(ids, len)));
        Rope.Angles pe = known.angles();

        Workspace ws = spareWorkspace.getAndSet(null);
        if (ws == null || !ws.fits(imgLen, txtLen, h)) ws = Workspace.of(imgLen, txtLen, h, config.mlpHidden());
        float[] x = new float[len * h];
        imgIn.forward(img, imgLen, x);
        float[] txtStream = txtIn.apply(txt, txtLen);
        long embed = System.nanoTime() - start;

        BlockHook hook = blockHook;
        long[] doubleNanos = new long[doubleBlocks.size()], singleNanos = new long[singleBlocks.size()];
        for (int i = 0; i < doubleBlocks.size(); i++) {
            long t0 = System.nanoTime();
            hook.before(i);
            doubleBlocks.get(i).forward(x, imgLen, txtStream, txtLen, siluVec, pe, ws);
            hook.after(i);
            doubleNanos[i] = System.nanoTime() - t0;
        }
        System.arraycopy(txtStream, 0, x, imgLen * h, txtLen * h);
        for (int i = 0; i < singleBlocks.size(); i++) {
            long t0 = System.nanoTime();
            hook.before(doubleBlocks.size() + i);
            singleBlocks.get(i).forward(x, len, siluVec, pe, ws);
            hook.after(doubleBlocks.size() + i);
            singleNanos[i] = System.nanoTime() - t0;
        }
        long t0 = System.nanoTime();
        float[] velocity = finalLayer.forward(x, imgLen, siluVec, ws);
        spareWorkspace.set(ws);
        return new Timed(velocity, embed, doubleNanos, singleNanos, System.nanoTime() - t0);
    }

    /** Drops the activation arrays and angles kept between forwards (the denoising is over; the plan frees them). */
    public void releaseWorkspace() {
        spareWorkspace.set(null);
        positions.set(null);
    }

    private static Embeddings.MlpEmbedder embedder(Weights w, String name, int in, int hidden) {
        return new Embeddings.MlpEmbedder(w.linear(name + ".in_layer", in, true, hidden), w.linear(name + ".out_layer", hidden, true, hidden));
    }

    private static void requireLength(String what, float[] a, long expected) {
        if (a.length != expected) throw new IllegalArgumentException(what + " has " + a.length + " values, expected " + expected);
    }
}
