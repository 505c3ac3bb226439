package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.tensor.Conv2d;
import fluxj.tensor.ConvKernel;
import fluxj.tensor.Matmul;
import fluxj.tensor.MatmulKernel;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.onednn.OneDnnConv;

import java.util.Map;
import java.util.function.Supplier;

/**
 * FLUX's KL autoencoder (BFL {@code AutoEncoder}, diffusers {@code AutoencoderKL}): {@link #decode} turns the
 * sampler's latent into an image, {@link #encode} an image into the latent the sampler would use. Loads BFL,
 * diffusers and ComfyUI-prefixed layouts (see {@link VaeLayout}), weights in any float dtype.
 */
public final class AutoEncoder {
    private static final System.Logger LOG = System.getLogger(AutoEncoder.class.getName());
    private final VaeConfig config;
    private final Encoder encoder;
    private final Decoder decoder;
    private final Tiling tiling;
    private final String source;

    private AutoEncoder(VaeConfig config, Encoder encoder, Decoder decoder, Tiling tiling, String source) {
        this.config = config;
        this.encoder = encoder;
        this.decoder = decoder;
        this.tiling = tiling;
        this.source = source;
    }

    /**
     * @param config a diffusers {@code config.json} map, a sidecar {@code ae_params} map, or null (sizes from the
     *               tensors, FLUX's scale 0.3611 and shift 0.1159)
     */
    public static AutoEncoder load(Checkpoint ck, Map<String, Object> config) {
        Checkpoint bfl = VaeLayout.toBfl(ck);
        VaeConfig c = VaeConfig.infer(bfl, config);
        Encoder enc = bfl.has("encoder.conv_in.weight") ? new Encoder(bfl, c) : null;
        LOG.log(System.Logger.Level.DEBUG, () -> "VAE " + ck.description() + ": " + c + (enc == null ? " (decoder only)" : ""));
        return new AutoEncoder(c, enc, new Decoder(bfl, c), Tiling.defaults(), ck.description());
    }

    /** This autoencoder with other tiling options (the weights are shared). */
    public AutoEncoder withTiling(Tiling t) { return new AutoEncoder(config, encoder, decoder, t, source); }

    public Tiling tiling() { return tiling; }

    public VaeConfig config() { return config; }

    public int latentChannels() { return config.zChannels(); }

    /**
     * z [zc, h, w] as the sampler produces it -> image [out, f*h, f*w] in about [-1, 1], not clamped. Computes
     * {@code decoder(z / scale + shift)}, in tiles when {@link #tiling()} says so for this size.
     */
    public float[] decode(float[] z, int h, int w) {
        int n = config.zChannels() * h * w;
        if (h < 1 || w < 1 || z.length != n) throw new IllegalArgumentException("decode: latent holds " + z.length + " values, expected " + config.zChannels() + "x" + h + "x" + w);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = z[i] / config.scaleFactor() + config.shiftFactor();
        if (tiled(h, w)) {
            TiledDecoder td = tiledDecoder(h, w);
            LOG.log(System.Logger.Level.DEBUG, () -> "decoding " + h + "x" + w + " latent in " + tiling.tile() + "-pixel tiles"
                    + (td.wholeTrunk() ? "" : " (trunk tiled too)"));
            return td.decode(x, h, w);
        }
        if (decoder.largestActivation(h, w) > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("decode: a " + config.factor() * w + "x" + config.factor() * h
                    + " image is too large to decode untiled (an activation would exceed 2^31 values); decode it in tiles");
        }
        return decoder.decode(x, h, w);
    }

    /**
     * image [in, H, W] (H, W multiples of 8 for FLUX) -> {@code (mean - shift) * scale}, [zc, H/8, W/8]. In bands of
     * rows ({@link Encoder#meanInBands}: the same latent in about half the memory, or a third streamed) when
     * {@link #tiling()} says so for this size, as for decoding: see {@link #encodesInTiles}.
     */
    public float[] encode(float[] image, int height, int width) {
        Encoder e = requireEncoder();
        int f = config.factor();
        if (height < f || width < f || height % f != 0 || width % f != 0) {
            throw new IllegalArgumentException("encode: image " + width + "x" + height + " is not a positive multiple of " + f + " on each side");
        }
        if (image.length != (long) config.inChannels() * height * width) throw new IllegalArgumentException("encode: image holds " + image.length + " values, expected " + config.inChannels() + "x" + height + "x" + width);
        // Tiled or not, the encoder holds whole activations between its layers.
        if (e.largestActivation(height, width) > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("encode: a " + width + "x" + height + " image is too large to encode (an activation would exceed 2^31 values)");
        }
        Encoder.Mode mode = encodeMode(height, width);
        if (mode.tiled()) {
            LOG.log(System.Logger.Level.DEBUG, () -> "encoding " + width + "x" + height + " image in bands of " + mode.rows() + " rows"
                    + (mode.streamed() ? ", streamed" : ""));
        }
        float[] mean = encoding(() -> mode.tiled() ? e.meanInBands(image, height, width, mode) : e.mean(image, height, width));
        for (int i = 0; i < mean.length; i++) mean[i] = (mean[i] - config.shiftFactor()) * config.scaleFactor();
        return mean;
    }

    /**
     * How {@link #encode} runs on a height x width image, by the rule of decoding: untiled unless the untiled
     * encode's activations exceed the tiling's memory budget (by default half the heap) or a latent side exceeds
     * its size threshold, never when the latent fits in one tile; then in bands of {@code tile} rows, streamed
     * when even the bands exceed the budget.
     */
    Encoder.Mode encodeMode(int height, int width) {
        Encoder e = requireEncoder();
        int f = config.factor();
        if (!tiling.applies(height / f, width / f, e.activationBytes(height, width, Encoder.Mode.UNTILED))) return Encoder.Mode.UNTILED;
        Encoder.Mode bands = new Encoder.Mode(tiling.tile(), false);
        return e.activationBytes(height, width, bands) <= tiling.memoryBudget() ? bands : new Encoder.Mode(tiling.tile(), true);
    }

    /** Whether {@link #encode} of a height x width image goes in bands (see {@link #encodeMode}). */
    public boolean encodesInTiles(int height, int width) { return encodeMode(height, width).tiled(); }

    /** Whether {@link #encode} of a height x width image goes in bands that do not hold conv1's output either. */
    public boolean encodesStreamed(int height, int width) { return encodeMode(height, width).streamed(); }

    /** Estimated peak bytes of activations of an untiled encode of a height x width image (the image included). */
    public long encodeBytes(int height, int width) { return requireEncoder().activationBytes(height, width, Encoder.Mode.UNTILED); }

    /** Estimated peak bytes of {@link #encode} of a height x width image as the current tiling options decide it. */
    public long plannedEncodeBytes(int height, int width) {
        return requireEncoder().activationBytes(height, width, encodeMode(height, width));
    }

    /**
     * Native bytes oneDNN's buffers grow to during {@link #encode} of a height x width image as the tiling options
     * decide it (the mid attention's matmul and attention buffers, and under oneDNN's convolution its largest
     * source and destination); 0 on the Java path.
     */
    public long plannedEncodeNativeBytes(int height, int width) {
        Encoder e = requireEncoder();
        return encoding(() -> e.attentionNativeBytes(height, width)
                + (Conv2d.kernel() instanceof OneDnnConv ? e.convNativeBytes(height, width, encodeMode(height, width)) : 0));
    }

    /** Bytes of the copies of the encoder's weights {@link #encode} makes on first use (see {@link #decodeWeightCopyBytes}). */
    public long encodeWeightCopyBytes() { return encoding(requireEncoder()::weightCopyBytes); }

    /**
     * {@code body} with the encoder's kernels: the convolution, product and attention kernels in use kept in f32
     * ({@link ConvKernel#f32()}, {@link MatmulKernel#f32()}). A bf16 encode's error goes straight into the latent an
     * image-conditioned generation starts from or attends to: with oneDNN's bf16 kernels the public img2img and
     * Kontext cases lost 6 dB against the reference.
     */
    private static <T> T encoding(Supplier<T> body) {
        return Matmul.computing(Matmul.kernel().f32(), () -> Conv2d.computing(Conv2d.kernel().f32(), body));
    }

    /** Multiply-adds x 2 of an untiled encode of a height x width image (bands repeat none of it). */
    public double encodeFlops(int height, int width) { return requireEncoder().flops(height, width, Encoder.Mode.UNTILED); }

    /** Multiply-adds x 2 {@link #encode} performs as the tiling options decide it (streamed: conv1 twice in large blocks). */
    public double plannedEncodeFlops(int height, int width) { return requireEncoder().flops(height, width, encodeMode(height, width)); }

    /** The encoder, for tests of its two paths; null when the checkpoint holds none. */
    Encoder encoder() { return encoder; }

    /** Whether this checkpoint holds the encoder. */
    public boolean hasEncoder() { return encoder != null; }

    private Encoder requireEncoder() {
        if (encoder == null) throw new ModelFormatException(source, "this VAE checkpoint holds no encoder weights");
        return encoder;
    }

    /** Whether {@link #decode} of an h x w latent goes in tiles (the tiling options and the untiled decode's size). */
    private boolean tiled(int h, int w) { return tiling.applies(h, w, decodeBytes(h, w)); }

    /** Estimated peak bytes of activations of an untiled decode of an h x w latent. */
    public long decodeBytes(int h, int w) { return decoder.activationBytes(h, w); }

    /** Estimated peak bytes of a tiled decode of an h x w latent with this tiling's tile size (output included). */
    public long tileBytes(int h, int w) { return tiledDecoder(h, w).peakBytes(h, w); }

    /**
     * The tiled decoder for an h x w latent: the trunk (and its attention) on the whole latent when that fits the
     * memory budget, which it does but for huge images (its maps are 1/f^2 of the pixels); else all in tiles.
     */
    private TiledDecoder tiledDecoder(int h, int w) {
        TiledDecoder whole = new TiledDecoder(decoder, tiling.tile(), tiling.overlap(), true);
        return whole.peakBytes(h, w) <= tiling.memoryBudget() ? whole : new TiledDecoder(decoder, tiling.tile(), tiling.overlap(), false);
    }

    /** Multiply-adds x 2 of an untiled decode of an h x w latent: the nominal work of the decode. */
    public double decodeFlops(int h, int w) { return decoder.flops(h, w); }

    /**
     * Multiply-adds x 2 {@link #decode} performs on an h x w latent as the current tiling options decide it: the
     * untiled decode's, or the tiled decode's with its overlaps decoded once per tile.
     */
    public double plannedDecodeFlops(int h, int w) {
        return tiled(h, w) ? tiledDecoder(h, w).flops(h, w) : decodeFlops(h, w);
    }

    /**
     * Bytes of the copies of the decoder's weights that {@link #decode} makes on first use and keeps while this
     * autoencoder lives, by the convolution kernel in use ({@link Conv2d#kernel()}): the tap-major copy of every
     * convolution weight larger than 1x1 in its stored dtype, and under oneDNN every weight's bf16 copy in
     * oneDNN's layout.
     */
    public long decodeWeightCopyBytes() { return decoder.weightCopyBytes(); }

    /**
     * Native bytes oneDNN's buffers grow to during {@link #decode} of an h x w latent as the current tiling options
     * decide it (0 on the Java path): the convolution's largest bf16 source plus its largest f32 destination, and
     * the mid attention's matmul and attention buffers, held until {@link fluxj.tensor.onednn.NativeBuffer#releaseAll()}.
     */
    public long plannedDecodeNativeBytes(int h, int w) {
        // The mid attention runs on the whole latent (or a tile of it when the trunk is tiled too: less).
        long attention = decoder.attentionNativeBytes(h, w);
        if (!(Conv2d.kernel() instanceof OneDnnConv)) return attention;
        long[] most = {0, 0};
        Decoder.ConvUse grow = (conv, ch, cw) -> {
            most[0] = Math.max(most[0], conv.oneDnnSourceBytes(ch, cw));
            most[1] = Math.max(most[1], conv.oneDnnDestinationBytes(ch, cw));
        };
        if (tiled(h, w)) {
            tiledDecoder(h, w).convs(h, w, grow);
        } else {
            decoder.trunkConvs(h, w, grow);
            decoder.upperConvs(h, w, grow);
        }
        return most[0] + most[1] + attention;
    }

    /**
     * Frees the activation arrays {@link #decode} keeps between tiles and decodes on a fusing convolution kernel
     * (a decode's workspace: the next decode allocates them again).
     */
    public void releaseWorkspace() { decoder.releaseWorkspace(); }

    /** Bytes of the decoder's weight copies held now: none before the first decode and after the checkpoint closes. */
    long heldWeightCopyBytes() {
        long[] sum = {0};
        Decoder.ConvUse add = (conv, h, w) -> sum[0] += conv.heldCopyBytes();
        decoder.trunkConvs(1, 1, add);
        decoder.upperConvs(1, 1, add);
        return sum[0];
    }

    /** Estimated peak bytes of {@link #decode} of an h x w latent as the current tiling options decide it. */
    public long plannedDecodeBytes(int h, int w) {
        return tiled(h, w) ? tileBytes(h, w) : decodeBytes(h, w);
    }
}
