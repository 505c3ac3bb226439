package fluxj.pipeline;

import fluxj.condition.ModelInput;
import fluxj.flux.FluxConfig;
import fluxj.flux.FluxTransformer;
import fluxj.flux.WeightPatcher;
import fluxj.io.Checkpoint;
import fluxj.lora.LoraMode;
import fluxj.lora.LoraRef;
import fluxj.lora.LoraSet;
import fluxj.memory.BlockLayout;
import fluxj.memory.ByteSize;
import fluxj.memory.BlockStreamer;
import fluxj.memory.Component;
import fluxj.memory.Device;
import fluxj.memory.ImageInputs;
import fluxj.memory.Fp8Cache;
import fluxj.memory.Q8Cache;
import fluxj.memory.MemoryPlan;
import fluxj.memory.Phase;
import fluxj.memory.Planner;
import fluxj.memory.Sizing;
import fluxj.memory.WeightDtype;
import fluxj.tensor.Conv2d;
import fluxj.tensor.Matmul;
import fluxj.tensor.MatmulKernel;
import fluxj.tensor.onednn.NativeBuffer;
import fluxj.text.ClipTextModel;
import fluxj.text.T5Encoder;
import fluxj.text.TextConfig;
import fluxj.vae.AutoEncoder;
import fluxj.vae.VaeLayout;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The four weight-holding components, each mapped only while the memory plan wants it: loaded on first use in
 * its phase, released after the phase (Arena close: the mapping goes, the OS reclaims the pages) unless the plan
 * keeps everything, the transformer streamed block by block or converted to FP8 when the plan says so.
 */
final class ManagedModels implements MemoryControl, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ManagedModels.class.getName());

    /**
     * One component: its file, how to build the model over the mapping, the live mapping if loaded, and the model
     * built over it. The model can be dropped and built again over the same mapping (a new LoRA set) without
     * re-reading the file; {@code copies} holds the weight copies the build made (LoRA-merged weights).
     */
    private static final class Handle<T> {
        interface Loader<T> { T load(Checkpoint ck, Arena copies); }

        private final Path path;
        private final Loader<T> loader;
        private Path loadedFrom;
        private Checkpoint ck;
        private T model;
        private Arena copies;
        private BlockStreamer streamer;

        Handle(Path path, Loader<T> loader) {
            this.path = path;
            this.loader = loader;
        }

        T get(Path from) {
            if (ck == null || !from.equals(loadedFrom)) {
                release();
                try {
                    ck = Checkpoint.open(from);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                loadedFrom = from;
            }
            if (model == null) {
                copies = Arena.ofShared();
                try {
                    model = loader.load(ck, copies);
                } catch (RuntimeException e) {
                    unbuild();
                    throw e;
                }
            }
            return model;
        }

        T get() { return get(path); }

        boolean loaded() { return model != null; }

        /** Drops the model and its copies, keeping the mapping: the next use builds it again over the same file. */
        void unbuild() {
            if (streamer != null) streamer.close();
            if (copies != null) copies.close();
            streamer = null;
            copies = null;
            model = null;
        }

        void release() {
            unbuild();
            if (ck != null) ck.close();
            ck = null;
        }
    }

    private final Device device = Device.Cpu.detect();
    private final Handle<ClipTextModel> clip;
    private final Handle<T5Encoder> t5;
    private final Handle<FluxTransformer> flux;
    private final Handle<AutoEncoder> vae;
    private final Component clipC, t5C, fluxC, vaeC, vaeEncoderC;
    private final FluxConfig fluxConfig;
    private final TextConfig.T5 t5Config;
    private final int clipWidth;
    private final AutoEncoder vaeShape;
    private final int t5Length;
    private MemoryPlan plan;
    private Path fp8Copy;
    /** What fp8Copy was converted to (FP8 or Q8_0). */
    private WeightDtype converted;
    private final LoraSet.Model loraModel;
    private LoraSet loras;
    /** Whether float weights are merged with the LoRAs (else every LoRA runs beside its matmul): as the plan fits. */
    private boolean mergeLoras = true;

    ManagedModels(ModelFiles f, FluxTransformer transformer, ClipTextModel clipModel, T5Encoder t5Model, AutoEncoder ae,
                  Map<Path, Checkpoint> opened, int t5Length) {
        clip = new Handle<>(f.clip(), (ck, copies) -> ClipTextModel.load(loras.patchesClip() ? loras.patchClip(ck, copies) : ck, f.clipConfig()));
        t5 = new Handle<>(f.t5(), (ck, copies) -> T5Encoder.load(ck, f.t5Config()));
        flux = new Handle<>(f.transformer(), (ck, copies) -> FluxTransformer.load(ck, f.transformerConfig(),
                loras.patchesTransformer() ? loras.transformerPatcher(copies, mergeLoras) : WeightPatcher.NONE));
        vae = new Handle<>(f.vae(), (ck, copies) -> AutoEncoder.load(ck, f.vaeConfig()));
        clipC = Sizing.component("clip-l", Phase.ENCODE, opened.get(f.clip()), 0, false, false);
        t5C = Sizing.component(t5Model.config().outDim() != t5Model.config().dModel() ? "distillt5" : "t5", Phase.ENCODE, opened.get(f.t5()), 0, false, false);
        fluxC = Sizing.component("transformer", Phase.DENOISE, opened.get(f.transformer()), 0, true, true);
        // The autoencoder's halves run in different phases and touch only their own tensors' pages.
        vaeC = Sizing.part("vae", Phase.DECODE, opened.get(f.vae()), n -> !VaeLayout.isEncoderTensor(n));
        vaeEncoderC = Sizing.part("vae-encoder", Phase.ENCODE_IMAGES, opened.get(f.vae()), VaeLayout::isEncoderTensor);
        fluxConfig = transformer.config();
        t5Config = t5Model.config();
        clipWidth = clipModel.width();
        vaeShape = ae;
        this.t5Length = t5Length;
        TextConfig.Clip cc = clipModel.config();
        loraModel = new LoraSet.Model(transformer.linears(), transformer.vectors(), LoraSet.clipLayers(cc.layers(), cc.width(), cc.mlp()));
        loras = LoraSet.empty(loraModel);
    }

    @Override
    public boolean applyLoras(List<LoraRef> refs, Consumer<String> warnings) {
        if (refs.equals(loras.refs())) return false;
        LoraSet next;
        try {
            next = LoraSet.open(refs, loraModel, warnings);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        LoraSet old = loras;
        boolean clipChanged = old.patchesClip() || next.patchesClip();
        loras = next;
        if (old.patchesTransformer() || next.patchesTransformer()) flux.unbuild();
        if (clipChanged) clip.unbuild();
        old.close();
        if (!refs.isEmpty()) LOG.log(System.Logger.Level.INFO, "LoRA: " + refs.stream().map(r -> r.name() + " x" + r.weight()).toList());
        return clipChanged;
    }

    @Override
    public ModelInput input(ModelInput stored) {
        int in = loras.inputs("img_in", fluxConfig.inChannels());
        return in == fluxConfig.inChannels() ? stored : ModelInput.of(in, fluxConfig.outChannels());
    }

    @Override
    public MemoryPlan prepare(GenerationRequest r, ImageInputs images) {
        long budget = r.memoryBudget() > 0 ? r.memoryBudget() : device.defaultBudget();
        int lh = r.height() / 8, lw = r.width() / 8, imgTokens = (r.height() / 16) * (r.width() / 16);
        // Reference tokens (Kontext) join the image tokens in every block.
        int inner = t5Config.heads() * t5Config.dKv(), tokens = imgTokens + images.referenceTokens() + t5Length;
        int hidden = fluxConfig.hidden(), mlp = fluxConfig.mlpHidden();
        // Native buffers of the matmul backend (oneDNN's; none for Java), sized by each model's widest product: the
        // encoders' attention has a bias or a mask and stays on the heap, the transformer's goes to oneDNN too.
        MatmulKernel mm = Matmul.kernel();
        long clipNative = mm.bufferBytes(ModelInfo.CLIP_MAX_LENGTH, 4 * clipWidth, 4 * clipWidth);
        long t5Native = mm.bufferBytes(t5Length, Math.max(inner, t5Config.dFf()), Math.max(t5Config.dModel(), Math.max(inner, t5Config.dFf())));
        long fluxNative = Sizing.transformerNative(tokens, hidden, mlp);
        List<Component> parts = new ArrayList<>(List.of(
                clipC.withWorkspace(Sizing.encoderWorkspace(ModelInfo.CLIP_MAX_LENGTH, clipWidth, clipWidth, 4 * clipWidth, clipWidth / 64) + clipNative)
                        .withCopies(loras.clipCopyBytes()),
                t5C.withWorkspace(Sizing.encoderWorkspace(t5Length, t5Config.dModel(), inner, t5Config.dFf(), t5Config.heads()) + t5Native)));
        if (!images.encoded().isEmpty()) {
            // Images are encoded one after another: the largest encode's workspace is the phase's.
            long work = images.encoded().stream().mapToLong(i -> vaeShape.plannedEncodeBytes(i.height(), i.width())
                    + vaeShape.plannedEncodeNativeBytes(i.height(), i.width())).max().orElseThrow();
            parts.add(vaeEncoderC.withWorkspace(work).withCopies(vaeShape.encodeWeightCopyBytes()));
        }
        parts.add(fluxC.withWorkspace(Sizing.transformerWorkspace(tokens, hidden, mlp) + fluxNative).withCopies(loras.paddedCopyBytes()));
        parts.add(vaeC.withWorkspace(vaeShape.plannedDecodeBytes(lh, lw) + vaeShape.plannedDecodeNativeBytes(lh, lw))
                .withCopies(vaeShape.decodeWeightCopyBytes()));
        WeightDtype dtype = r.weightDtype() == null ? WeightDtype.STORED : r.weightDtype();
        // LoRA-merged float weights are float32 copies resident beside the mapping; when they would not fit (or the
        // transformer must stream), the LoRAs run beside the matmuls instead, on their own small factors.
        long merged = loras.mergedBytes();
        boolean merge = false;
        MemoryPlan next = null;
        if (merged > 0 && r.loraMode() != LoraMode.LOW_RANK && dtype == WeightDtype.STORED && List.of("F32", "F16", "BF16").contains(fluxC.storedDtype())) {
            List<Component> withCopies = parts.stream().map(c -> c.name().equals("transformer") ? c.withCopies(merged) : c).toList();
            next = Planner.plan(device, budget, withCopies, dtype, r.weightDtype() != null);
            merge = r.loraMode() == LoraMode.MERGE || next.fits() && next.entry("transformer").residency() != MemoryPlan.Residency.STREAMED;
        }
        if (!merge) next = Planner.plan(device, budget, parts, dtype, r.weightDtype() != null);
        if (merge != mergeLoras) {
            mergeLoras = merge;
            flux.unbuild();
        }
        if (loras.patchesTransformer()) {
            LOG.log(System.Logger.Level.INFO, merge ? "LoRA merged into float32 copies of the weights it patches (" + ByteSize.format(merged) + ")"
                    : "LoRA applied beside the matmuls (low-rank path: the weights stay as stored)");
        }
        if (plan == null || !plan.entry("transformer").equals(next.entry("transformer"))) flux.release();
        plan = next;
        return next;
    }

    ClipTextModel clip() { return clip.get(); }

    T5Encoder t5() { return t5.get(); }

    AutoEncoder vae() { return vae.get(); }

    /** The transformer as planned: from the FP8 cache when converted, with a block streamer when streamed. */
    FluxTransformer transformer() {
        MemoryPlan.Entry e = plan == null ? null : plan.entry("transformer");
        Path from = flux.path;
        if (e != null && fluxC.shrinks(e.dtype())) {
            if (fp8Copy == null || !converted.equals(e.dtype())) {
                if (flux.loaded()) flux.release();
                try (Checkpoint stored = Checkpoint.open(flux.path)) {
                    fp8Copy = e.dtype() == WeightDtype.FP8 ? Fp8Cache.convert(stored, Fp8Cache.defaultDir())
                            : Q8Cache.convert(stored, Fp8Cache.cacheRoot().resolve("gguf"));
                    converted = e.dtype();
                } catch (IOException ex) {
                    throw new UncheckedIOException(ex);
                }
            }
            from = fp8Copy;
        }
        boolean fresh = !flux.loaded() || !from.equals(flux.loadedFrom);
        if (fresh && flux.streamer != null) {
            flux.streamer.close();
            flux.streamer = null;
        }
        FluxTransformer t = flux.get(from);
        if (fresh && e != null && e.residency() == MemoryPlan.Residency.STREAMED) {
            flux.streamer = new BlockStreamer(BlockLayout.of(flux.ck).segments(), e.prefetchBlocks());
            t.setBlockHook(flux.streamer);
            LOG.log(System.Logger.Level.INFO, "streaming the transformer's blocks (" + e.prefetchBlocks() + " resident at a time)");
        }
        return t;
    }

    @Override
    public void done(Phase phase) {
        // oneDNN's activation buffers and the convolution's scratch are a phase's workspace, not its weights: freed
        // after every phase, even when the models stay, so the next phase's peak does not carry them (they regrow on
        // the next call).
        NativeBuffer.releaseAll();
        Conv2d.releaseScratch();
        if (phase == Phase.DENOISE && flux.loaded()) flux.model.releaseWorkspace();
        if (phase == Phase.DECODE && vae.loaded()) vae.model.releaseWorkspace();
        if (plan != null && plan.keepAll()) return;
        switch (phase) {
            case ENCODE -> { clip.release(); t5.release(); }
            case ENCODE_IMAGES -> vae.release();
            case DENOISE -> flux.release();
            case DECODE -> vae.release();
        }
    }

    @Override
    public void close() {
        clip.release();
        t5.release();
        flux.release();
        vae.release();
        loras.close();
        NativeBuffer.releaseAll();
        Conv2d.releaseScratch();
    }
}
