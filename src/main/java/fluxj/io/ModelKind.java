package fluxj.io;

import java.util.Collection;
import java.util.List;

/**
 * What a set of tensors is, recognised from key names and shapes alone: a FLUX.1 transformer, its autoencoder, a
 * CLIP text encoder, a T5 encoder or DistillT5, several of them bundled in one file, or unknown. {@link #prefix()}
 * is what precedes the component's own names ({@code model.diffusion_model.}, {@code first_stage_model.}, ...):
 * a loader opens {@code checkpoint.withPrefix(kind.prefix())}.
 */
public sealed interface ModelKind {

    String prefix();

    /** The FP8 evidence among the component's tensors. */
    Fp8 fp8();

    /** One line for people, e.g. "FLUX.1 transformer, dev-type (guidance embedder), text-to-image (img_in 64 wide), ...". */
    String describe();

    /** Which naming scheme a FLUX transformer or VAE uses. */
    enum Layout {
        /** Black Forest Labs' names (flux1-*.safetensors, ae.safetensors; ComfyUI files use them too). */
        BFL,
        /** Hugging Face diffusers names (FluxTransformer2DModel, AutoencoderKL). */
        DIFFUSERS;

        String label() { return this == BFL ? "BFL names" : "diffusers names"; }
    }

    /** The FLUX.1 transformer (flow model). */
    record Flux(String prefix, Layout layout, boolean guidance, int inChannels, int hidden, int doubleBlocks, int singleBlocks,
                Fp8 fp8) implements ModelKind {
        /** FLUX.1 variants differ by img_in width: packed latents (64), plus a control image (128), plus image and mask (384). */
        public String task() {
            return switch (inChannels) {
                case 64 -> "text-to-image";
                case 128 -> "Canny/Depth control";
                case 384 -> "Fill (inpainting)";
                default -> "unusual input width";
            };
        }

        @Override
        public String describe() {
            return "FLUX.1 transformer, " + (guidance ? "dev-type (guidance embedder)" : "schnell-type (no guidance embedder)") + ", "
                    + task() + " (img_in " + inChannels + " wide), " + layout.label() + ", hidden " + hidden
                    + (hidden % 128 == 0 ? " (" + hidden / 128 + (hidden == 128 ? " head" : " heads") + " of 128)" : "") + ", " + doubleBlocks + " double + "
                    + singleBlocks + " single blocks" + Recogniser.prefixNote(prefix);
        }
    }

    /** The FLUX.1 autoencoder (16 latent channels) or another KL autoencoder of the same design. */
    record Vae(String prefix, Layout layout, int channels, int levels, int zChannels, Fp8 fp8) implements ModelKind {
        @Override
        public String describe() {
            return (zChannels == 16 ? "FLUX.1 autoencoder (VAE)" : "KL autoencoder (VAE) with " + zChannels + " latent channels") + ", "
                    + layout.label() + ", ch " + channels + ", " + levels + " levels, " + zChannels + " latent channels" + Recogniser.prefixNote(prefix);
        }
    }

    /** A CLIP text encoder (CLIP-L in FLUX.1), Hugging Face CLIPTextModel names. */
    record ClipText(String prefix, int width, int layers, int vocab, Fp8 fp8) implements ModelKind {
        @Override
        public String describe() {
            return "CLIP text encoder" + (width == 768 && layers == 12 ? " (CLIP-L size)" : "") + ", width " + width + ", "
                    + layers + " layers, vocabulary " + vocab + (prefix.equals("text_model.") ? "" : Recogniser.prefixNote(prefix));
        }
    }

    /** A T5 (v1.1) encoder, Hugging Face T5EncoderModel names. */
    record T5(String prefix, int dModel, int layers, int heads, Fp8 fp8) implements ModelKind {
        @Override
        public String describe() {
            return "T5 encoder" + (dModel == 4096 && layers == 24 ? " (T5-XXL size)" : "") + ", d_model " + dModel + ", " + layers
                    + " blocks, " + heads + (heads == 1 ? " head" : " heads") + Recogniser.prefixNote(prefix);
        }
    }

    /**
     * DistillT5: a small T5 encoder followed by final_projection (Linear, ReLU, Linear) up to the transformer's context width.
     * {@code t5Prefix} (after {@code prefix}) leads to the T5 part: "" in DistillT5ComfyUI files (shared.weight,
     * encoder.block.N...), "encoder." in the Hugging Face class's files (encoder.shared.weight, encoder.encoder.block.N...).
     */
    record DistillT5(String prefix, String t5Prefix, int dModel, int layers, int outDim, Fp8 fp8) implements ModelKind {
        @Override
        public String describe() {
            return "DistillT5 (T5 encoder + final_projection to " + outDim + "), d_model " + dModel + ", " + layers + " blocks"
                    + Recogniser.prefixNote(prefix);
        }
    }

    /** Several components in one file (e.g. a ComfyUI all-in-one checkpoint). */
    record Bundle(List<ModelKind> parts, Fp8 fp8) implements ModelKind {
        @Override
        public String prefix() { return ""; }

        @Override
        public String describe() {
            StringBuilder b = new StringBuilder("several components:");
            for (ModelKind k : parts) b.append(" [").append(k.describe()).append(']');
            return b.toString();
        }
    }

    /** Nothing recognised; {@code looksLike} says what the names suggest. */
    record Unknown(String looksLike, Fp8 fp8) implements ModelKind {
        @Override
        public String prefix() { return ""; }

        @Override
        public String describe() { return "unknown: " + looksLike; }
    }

    /**
     * FP8 evidence: tensors stored as float8, ComfyUI's {@code scaled_fp8} marker, per-layer scale tensors
     * ({@code .scale_weight}, {@code .weight_scale}, {@code .input_scale}) or {@code .comfy_quant} descriptors.
     */
    record Fp8(int e4m3, int e5m2, boolean scaledMarker, int scaleTensors, int comfyQuant) {
        public boolean present() { return e4m3 + e5m2 > 0 || scaledMarker || scaleTensors > 0 || comfyQuant > 0; }

        @Override
        public String toString() {
            if (!present()) return "no";
            StringBuilder b = new StringBuilder("yes (");
            String sep = "";
            if (e4m3 > 0) { b.append(e4m3).append(" F8_E4M3 tensors"); sep = ", "; }
            if (e5m2 > 0) { b.append(sep).append(e5m2).append(" F8_E5M2 tensors"); sep = ", "; }
            if (scaledMarker) { b.append(sep).append("scaled_fp8 marker"); sep = ", "; }
            if (scaleTensors > 0) { b.append(sep).append(scaleTensors).append(" scale tensors"); sep = ", "; }
            if (comfyQuant > 0) b.append(sep).append(comfyQuant).append(" .comfy_quant entries");
            return b.append(')').toString();
        }
    }

    /** The kind of a whole checkpoint: one component, a {@link Bundle}, or {@link Unknown}. */
    static ModelKind of(Checkpoint checkpoint) {
        return of(checkpoint.tensors().values().stream().map(TensorSpec::of).toList());
    }

    static ModelKind of(Collection<TensorSpec> tensors) {
        return new Recogniser(tensors).kind();
    }

    /** Every component recognised among {@code tensors}, each with its prefix. */
    static List<ModelKind> components(Collection<TensorSpec> tensors) {
        return new Recogniser(tensors).components();
    }
}
