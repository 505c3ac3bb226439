package fluxj.condition;

import fluxj.condition.ImageCondition.Control;
import fluxj.condition.ImageCondition.Fill;
import fluxj.condition.ImageCondition.InitImage;
import fluxj.condition.ImageCondition.Inpaint;
import fluxj.condition.ImageCondition.Outpaint;
import fluxj.condition.ImageCondition.Reference;
import fluxj.image.Lanczos;
import fluxj.memory.ImageInputs;
import fluxj.pipeline.LatentEncoder;
import fluxj.pipeline.Latents;
import fluxj.pipeline.RgbImage;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * A generation's image conditions prepared for the denoising loop: the one place the sampler sees them, as BFL's
 * {@code denoise} sees {@code img_cond} (features channel-concatenated to every target token) and
 * {@code img_cond_seq} (reference tokens appended to the sequence with their own position ids, their predictions
 * dropped). It also holds where the loop starts (img2img: the noised init latent and the tail of the schedule)
 * and inpainting's re-imposed known region after every step. Without conditions it is plain text to image.
 */
public final class ImageConditioning {
    private final int targetTokens, latentWidth, extra, refTokens;
    private final float[] channel, refs, ids, timesteps, start;
    private final float[] keep, noisePacked, initPacked;
    private final float[] initLatent, startLatent;
    private final float[] input;

    private ImageConditioning(Builder b) {
        targetTokens = b.n;
        latentWidth = b.latentWidth;
        extra = b.channel == null ? 0 : b.channel.length / b.n;
        channel = b.channel;
        refTokens = b.refTokens;
        refs = b.refs;
        ids = b.ids;
        timesteps = b.timesteps;
        start = b.start;
        keep = b.keep;
        noisePacked = b.noisePacked;
        initPacked = b.initPacked;
        initLatent = b.initLatent;
        startLatent = b.startLatent;
        input = extra == 0 && refTokens == 0 ? null : new float[(targetTokens + refTokens) * (latentWidth + extra)];
    }

    /**
     * {@code conditions} as a transformer reading {@code input} takes them: an init image with a mask is inpainting
     * for a plain model and FLUX.1 Fill's conditioning for a Fill model (which has no strength).
     */
    public static List<ImageCondition> forModel(List<ImageCondition> conditions, ModelInput input) {
        if (input != ModelInput.FILL) return conditions;
        return conditions.stream().map(c -> c instanceof Inpaint i ? (ImageCondition) new Fill(i.image(), i.mask()) : c).toList();
    }

    /**
     * Checks that {@code conditions} suit a transformer reading {@code input}: a Fill model needs a Fill (an image
     * and a mask), a control model a control image, a plain model neither; references need a plain model.
     */
    public static void check(List<ImageCondition> conditions, ModelInput input) {
        ImageCondition base = base(conditions);
        boolean control = conditions.stream().anyMatch(c -> c instanceof Control);
        boolean refs = conditions.stream().anyMatch(c -> c instanceof Reference);
        boolean fill = base instanceof Fill || base instanceof Outpaint;
        switch (input) {
            case LATENT -> {
                if (fill) throw new IllegalArgumentException("FLUX.1 Fill conditioning (" + (base instanceof Outpaint ? "outpainting" : "image + mask")
                        + ") needs a Fill model (img_in 384 wide); this model's img_in takes the 64-channel latent only (use an init image and a mask for inpainting with it)");
                if (control) throw new IllegalArgumentException("a control image needs a Canny/Depth control model (img_in 128 wide); this model's img_in takes the 64-channel latent only (a Canny/Depth control LoRA makes it one)");
            }
            case CONTROL -> {
                if (!control) throw new IllegalArgumentException("this is a Canny/Depth control model (img_in 128 wide): give it a control image (an edge or depth map)");
                if (fill) throw new IllegalArgumentException("this is a control model, not a Fill model: it cannot take a Fill image and mask");
            }
            case FILL -> {
                if (base == null || base instanceof InitImage) throw new IllegalArgumentException("this is a FLUX.1 Fill model (img_in 384 wide): it needs an init image and a mask (or outpainting margins)");
                if (base instanceof Inpaint) throw new IllegalArgumentException("this is a FLUX.1 Fill model: give its image and mask as Fill, not Inpaint (Fill has no strength)");
                if (control) throw new IllegalArgumentException("this is a Fill model, not a control model: it cannot take a control image");
            }
        }
        if (refs && input != ModelInput.LATENT) throw new IllegalArgumentException("reference images need a Kontext (64-channel) model; this one is a " + input.label() + " model");
    }

    /**
     * {@link #check} for a model that reads {@code input} with its LoRAs and {@code stored} without them: when a
     * control LoRA made the difference, the message says so.
     */
    public static void check(List<ImageCondition> conditions, ModelInput input, ModelInput stored) {
        try {
            check(conditions, input);
        } catch (IllegalArgumentException e) {
            if (input == stored) throw e;
            throw new IllegalArgumentException("a Canny/Depth control LoRA makes this base model a control model; " + e.getMessage(), e);
        }
    }

    /**
     * What {@code conditions} add to a {@code width x height} generation's memory: the sizes the encoder takes
     * their images at (the target's, a reference's Kontext resolution) and the reference tokens.
     */
    public static ImageInputs memoryInputs(List<ImageCondition> conditions, int width, int height) {
        List<ImageInputs.Size> encoded = new ArrayList<>();
        int refTokens = 0;
        for (ImageCondition c : conditions) {
            if (c instanceof Reference r) {
                int[] s = Kontext.preferredSize(r.image().width(), r.image().height());
                encoded.add(new ImageInputs.Size(s[0], s[1]));
                refTokens += (s[0] / 16) * (s[1] / 16);
            } else {
                encoded.add(new ImageInputs.Size(width, height));
            }
        }
        return new ImageInputs(encoded, refTokens);
    }

    /** The image the generation starts from or fills, if any (at most one: see GenerationRequest). */
    static ImageCondition base(List<ImageCondition> conditions) {
        return conditions.stream().filter(c -> c instanceof InitImage || c instanceof Inpaint || c instanceof Fill || c instanceof Outpaint).findFirst().orElse(null);
    }

    /**
     * Prepares {@code conditions} for a {@code width x height} target.
     *
     * @param noise    the seed's noise, unpacked [c, H/8, W/8]
     * @param schedule the full schedule, steps + 1 values for the target's tokens
     * @param notes    told about every input image resized to the size it is used at
     */
    public static ImageConditioning prepare(List<ImageCondition> conditions, ModelInput input, LatentEncoder encoder, int width, int height,
                                            int latentChannels, float[] noise, float[] schedule, Consumer<String> notes) {
        check(conditions, input);
        if (!conditions.isEmpty() && encoder == null) throw new IllegalStateException("image conditions need the VAE encoder, which this pipeline lacks");
        Builder b = new Builder(width, height, latentChannels, noise, schedule, encoder, notes);
        ImageCondition base = base(conditions);
        if (base instanceof Outpaint o) base = o.fill();
        switch (base) {
            case null -> b.fromNoise();
            case InitImage i -> b.img2img(i.image(), i.strength());
            case Inpaint i -> {
                b.img2img(i.image(), i.strength());
                b.inpaintMask(i.mask());
            }
            case Fill f -> b.fill(f.image(), f.mask());
            default -> throw new IllegalStateException("unreachable: " + base);
        }
        for (ImageCondition c : conditions) {
            if (c instanceof Control k) b.control(k.image());
        }
        b.references(conditions.stream().filter(c -> c instanceof Reference).map(c -> ((Reference) c).image()).toList());
        return new ImageConditioning(b);
    }

    /** The packed latent the Euler steps start from. */
    public float[] start() { return start.clone(); }

    /** The timesteps the Euler steps run over (img2img: the tail of the full schedule). */
    public float[] timesteps() { return timesteps.clone(); }

    /** Image tokens the transformer sees: the target's, then the references'. */
    public int tokens() { return targetTokens + refTokens; }

    /** Position ids of {@link #tokens()}: target (0, row, col), references (1, row + offset, col + offset). */
    public float[] ids() { return ids; }

    /**
     * The transformer's input for the packed target latent {@code x}: each target token's latent followed by its
     * channel conditioning, then the reference tokens. {@code x} itself when there is nothing to add; otherwise a
     * buffer reused by the next call.
     */
    public float[] input(float[] x) {
        if (input == null) return x;
        int in = latentWidth + extra;
        for (int t = 0; t < targetTokens; t++) {
            System.arraycopy(x, t * latentWidth, input, t * in, latentWidth);
            if (extra > 0) System.arraycopy(channel, t * extra, input, t * in + latentWidth, extra);
        }
        if (refTokens > 0) System.arraycopy(refs, 0, input, targetTokens * in, refs.length);
        return input;
    }

    /** The velocity of the target tokens from the transformer's output for {@link #tokens()}: the first rows. */
    public float[] velocity(float[] output) {
        return refTokens == 0 ? output : Arrays.copyOf(output, targetTokens * latentWidth);
    }

    /** After the step to {@code tNext}: inpainting puts the known region back at that noise level. */
    public void afterStep(float[] x, float tNext) {
        if (keep == null) return;
        float omt = (float) (1.0 - tNext);
        for (int i = 0; i < x.length; i++) {
            if (keep[i] != 0f) x[i] = tNext * noisePacked[i] + omt * initPacked[i];
        }
    }

    /** The encoded init image (z_init, [c, H/8, W/8]), or null without one. */
    public float[] initLatent() { return initLatent == null ? null : initLatent.clone(); }

    /** img2img's start latent before packing, or null without an init image. */
    public float[] startLatent() { return startLatent == null ? null : startLatent.clone(); }

    /** The channel-concatenated conditioning [N, features] (Fill: 320, control: 64), or null. */
    public float[] channelConditioning() { return channel == null ? null : channel.clone(); }

    /** The reference tokens [R, 64] (bf16-rounded, packed), or an empty array. */
    public float[] referenceTokens() { return refs.clone(); }

    /** The references' position ids [R, 3]. */
    public float[] referenceIds() { return Arrays.copyOfRange(ids, targetTokens * 3, ids.length); }

    /** Inpainting's packed mask (1 = repaint, 0 = keep), or null. */
    public float[] repaintMask() {
        if (keep == null) return null;
        float[] m = new float[keep.length];
        for (int i = 0; i < m.length; i++) m[i] = 1f - keep[i];
        return m;
    }

    /** The preparation, step by step; each step encodes what it needs. */
    private static final class Builder {
        final int width, height, c, h, w, n, latentWidth;
        final float[] noise, schedule;
        final LatentEncoder encoder;
        final Consumer<String> notes;
        float[] channel, refs = new float[0], ids, timesteps, start, keep, noisePacked, initPacked, initLatent, startLatent;
        int refTokens;

        Builder(int width, int height, int c, float[] noise, float[] schedule, LatentEncoder encoder, Consumer<String> notes) {
            this.width = width;
            this.height = height;
            this.c = c;
            h = height / 16;
            w = width / 16;
            n = h * w;
            latentWidth = 4 * c;
            this.noise = noise;
            this.schedule = schedule;
            this.encoder = encoder;
            this.notes = notes;
            ids = Latents.imageIds(h, w);
        }

        void fromNoise() {
            timesteps = schedule;
            start = Latents.pack(noise, c, h, w);
        }

        /** BFL demo_st.py: t_idx = int((1 - strength) * steps) in double, x = t * noise + (1 - t) * z_init at t = schedule[t_idx]. */
        void img2img(SourceImage image, double strength) {
            int steps = schedule.length - 1;
            int tIdx = (int) ((1.0 - strength) * steps);
            initLatent = encode(fit(image, "init image"));
            float t = schedule[tIdx], omt = (float) (1.0 - t);
            startLatent = new float[noise.length];
            for (int i = 0; i < noise.length; i++) startLatent[i] = t * noise[i] + omt * initLatent[i];
            timesteps = Arrays.copyOfRange(schedule, tIdx, schedule.length);
            start = Latents.pack(startLatent, c, h, w);
        }

        /** diffusers' FluxInpaintPipeline: binarised at L >= 128, each latent pixel takes the top-left pixel of its 8x8 block. */
        void inpaintMask(SourceImage mask) {
            int[] l = luminance(mask);
            int lh = 2 * h, lw = 2 * w;
            float[] keepLatent = new float[c * lh * lw];
            for (int y = 0; y < lh; y++) {
                for (int x = 0; x < lw; x++) {
                    float k = l[(8 * y) * width + 8 * x] >= 128 ? 0f : 1f;
                    for (int ch = 0; ch < c; ch++) keepLatent[(ch * lh + y) * lw + x] = k;
                }
            }
            keep = Latents.pack(keepLatent, c, h, w);
            noisePacked = Latents.pack(noise, c, h, w);
            initPacked = Latents.pack(initLatent, c, h, w);
        }

        /** BFL prepare_fill: the image masked by (1 - mask), encoded and rounded to bf16, then the bf16 mask's 8x8 pixels per latent pixel. */
        void fill(SourceImage image, SourceImage mask) {
            fromNoise();
            float[] px = Pixels.toModel(fit(image, "Fill image"));
            int[] l = luminance(mask);
            float[] m = new float[l.length];
            for (int p = 0; p < l.length; p++) m[p] = (float) l[p] / 255.0f;
            int plane = width * height;
            for (int ch = 0; ch < 3; ch++) {
                for (int p = 0; p < plane; p++) px[ch * plane + p] = px[ch * plane + p] * (1.0f - m[p]);
            }
            float[] latent = Latents.pack(Pixels.roundToBf16(encoder.encode(px, height, width)), c, h, w);
            Pixels.roundToBf16(m);
            int features = latentWidth + ModelInput.FILL_MASK_FEATURES;
            channel = new float[n * features];
            for (int i = 0; i < h; i++) {
                for (int j = 0; j < w; j++) {
                    int tok = (i * w + j) * features;
                    System.arraycopy(latent, (i * w + j) * latentWidth, channel, tok, latentWidth);
                    for (int py = 0; py < 8; py++) {
                        for (int pxl = 0; pxl < 8; pxl++) {
                            for (int dy = 0; dy < 2; dy++) {
                                for (int dx = 0; dx < 2; dx++) {
                                    channel[tok + latentWidth + (py * 8 + pxl) * 4 + dy * 2 + dx] = m[((2 * i + dy) * 8 + py) * width + (2 * j + dx) * 8 + pxl];
                                }
                            }
                        }
                    }
                }
            }
        }

        /** BFL prepare_control: the control image encoded, rounded to bf16, packed. */
        void control(SourceImage image) {
            channel = Latents.pack(Pixels.roundToBf16(encode(fit(image, "control image"))), c, h, w);
        }

        /** BFL prepare_kontext per reference, laid out by ComfyUI's "offset" rule. */
        void references(List<SourceImage> images) {
            if (images.isEmpty()) return;
            List<float[]> packed = new ArrayList<>();
            int[][] latentSizes = new int[images.size()][];
            for (int r = 0; r < images.size(); r++) {
                SourceImage img = images.get(r);
                int[] size = Kontext.preferredSize(img.width(), img.height());
                RgbImage px = resized(img, size[0], size[1], "reference image");
                latentSizes[r] = new int[]{size[1] / 8, size[0] / 8};
                packed.add(Latents.pack(Pixels.roundToBf16(encoder.encode(Pixels.toModel(px), size[1], size[0])), c, size[1] / 16, size[0] / 16));
            }
            int[][] offsets = Kontext.offsets(latentSizes);
            refTokens = packed.stream().mapToInt(p -> p.length / latentWidth).sum();
            refs = new float[refTokens * latentWidth];
            float[] all = Arrays.copyOf(ids, (n + refTokens) * 3);
            int tok = 0;
            for (int r = 0; r < packed.size(); r++) {
                System.arraycopy(packed.get(r), 0, refs, tok * latentWidth, packed.get(r).length);
                int rh = latentSizes[r][0] / 2, rw = latentSizes[r][1] / 2;
                for (int i = 0; i < rh; i++) {
                    for (int j = 0; j < rw; j++, tok++) {
                        all[(n + tok) * 3] = 1f;
                        all[(n + tok) * 3 + 1] = i + offsets[r][0];
                        all[(n + tok) * 3 + 2] = j + offsets[r][1];
                    }
                }
            }
            ids = all;
        }

        private float[] encode(RgbImage img) {
            return encoder.encode(Pixels.toModel(img), height, width);
        }

        /** The image at the target size. */
        private RgbImage fit(SourceImage img, String role) {
            return resized(img, width, height, role);
        }

        private RgbImage resized(SourceImage img, int tw, int th, String role) {
            if (img.width() == tw && img.height() == th) return img.pixels();
            notes.accept("resizing the " + role + " " + img.label() + " from " + img.width() + "x" + img.height() + " to " + tw + "x" + th + " (Lanczos)");
            return new RgbImage(tw, th, Lanczos.resize(img.pixels().rgb(), img.width(), img.height(), 3, tw, th));
        }

        /** A mask's Pillow "L" values at the target size (resized as one 8-bit band when its image was). */
        private int[] luminance(SourceImage mask) {
            int[] l = Pixels.luminance(mask.pixels());
            if (mask.width() == width && mask.height() == height) return l;
            byte[] band = new byte[l.length];
            for (int i = 0; i < l.length; i++) band[i] = (byte) l[i];
            byte[] r = Lanczos.resize(band, mask.width(), mask.height(), 1, width, height);
            int[] out = new int[r.length];
            for (int i = 0; i < r.length; i++) out[i] = r[i] & 0xff;
            return out;
        }
    }
}
