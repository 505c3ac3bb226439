package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.tensor.Attention;
import fluxj.tensor.ChannelsLast;
import fluxj.tensor.Conv2d;
import fluxj.tensor.Matmul;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Image [in, H, W] to the latent posterior's mean [z, H/f, W/f]: conv_in, per level num_res_blocks ResNets and
 * (but for the last level) a stride-2 3x3 conv on the input padded by one zero row and column at the bottom and
 * right, mid (ResNet, attention, ResNet), GroupNorm + SiLU, conv_out to 2z moments of which the first z are the
 * mean (the posterior's mode, what BFL's {@code DiagonalGaussian(sample=False)} returns).
 */
public final class Encoder {
    private static final Conv2d.Padding DOWNSAMPLE_PAD = new Conv2d.Padding(0, 0, 1, 1);
    private final VaeConfig config;
    private final Conv convIn, convOut, quantConv;
    private final List<List<ResnetBlock>> down = new ArrayList<>();
    private final List<Conv> downsample = new ArrayList<>();
    private final ResnetBlock mid1, mid2;
    private final AttnBlock attn;
    private final GroupNorm normOut;

    /**
     * How an encode runs: untiled ({@link #UNTILED}), or its convolutions in {@link Bands} of {@code rows} rows at
     * every level, {@code streamed} when the ResNet blocks whose image has more rows than a band also drop conv1's
     * output ({@link ResnetBlock#forwardStreamed}: less memory, conv1 computed twice).
     */
    record Mode(int rows, boolean streamed) {
        static final Mode UNTILED = new Mode(0, false);

        boolean tiled() { return rows > 0; }

        /** Whether a ResNet block on an image of h rows runs streamed. */
        boolean streams(int h) { return streamed && h > rows; }
    }

    Encoder(Checkpoint ck, VaeConfig c) {
        config = c;
        int g = c.groups(), in = c.ch();
        convIn = Conv.same3x3(ck, "encoder.conv_in", c.inChannels(), in);
        for (int level = 0; level < c.levels(); level++) {
            List<ResnetBlock> blocks = new ArrayList<>();
            for (int i = 0; i < c.numResBlocks(); i++) {
                blocks.add(ResnetBlock.load(ck, "encoder.down." + level + ".block." + i + ".", in, c.channels(level), g));
                in = c.channels(level);
            }
            down.add(blocks);
            downsample.add(level == c.levels() - 1 ? null : Conv.load(ck, "encoder.down." + level + ".downsample.conv", in, in, 3, 2, DOWNSAMPLE_PAD));
        }
        mid1 = ResnetBlock.load(ck, "encoder.mid.block_1.", in, in, g);
        attn = ck.has("encoder.mid.attn_1.q.weight") ? AttnBlock.load(ck, "encoder.mid.attn_1.", in, g) : null;
        mid2 = ResnetBlock.load(ck, "encoder.mid.block_2.", in, in, g);
        normOut = GroupNorm.load(ck, "encoder.norm_out", in, g);
        convOut = Conv.same3x3(ck, "encoder.conv_out", in, 2 * c.zChannels());
        quantConv = ck.has("quant_conv.weight") ? Conv.pointwise(ck, "quant_conv", 2 * c.zChannels(), 2 * c.zChannels()) : null;
    }

    /** image [in, H, W] (H, W multiples of the downsampling factor) -> latent mean [z, H/f, W/f], unscaled. */
    public float[] mean(float[] image, int h, int w) {
        // Channels-last in between, as in the decoder.
        float[] x = convIn.apply(ChannelsLast.transpose(image, config.inChannels(), h * w), h, w);
        for (int level = 0; level < config.levels(); level++) {
            for (ResnetBlock b : down.get(level)) x = b.forward(x, h, w);
            if (downsample.get(level) != null) {
                x = downsample.get(level).apply(x, h, w);
                h /= 2;
                w /= 2;
            }
        }
        x = mid1.forward(x, h, w);
        if (attn != null) x = attn.forward(x, h, w);
        x = mid2.forward(x, h, w);
        return moments(convOut.apply(normOut.siluInPlace(x, h * w), h, w), h, w);
    }

    /**
     * {@link #mean} with every convolution run in {@link Bands} of {@code mode.rows()} rows at each level: the same
     * values, to the order of the convolution kernel's sums (and, streamed, of norm2's statistics). Between the
     * layers the whole activations are kept (each GroupNorm's statistics are those of the whole image, and the
     * attention sees every position), but only the input and output of each ResNet block and conv1's output inside
     * it (streamed: not even that), not the normalised copies, the products and the scratch of whole-image
     * convolutions: about half the untiled peak (streamed: about a third).
     */
    float[] meanInBands(float[] image, int h, int w, Mode mode) {
        int rows = mode.rows();
        float[] x = new float[Math.multiplyExact(config.ch(), h * w)];
        Bands.convolve(convIn, ChannelsLast.transpose(image, config.inChannels(), h * w), h, w, null, rows, Bands.into(x, w, config.ch()));
        for (int level = 0; level < config.levels(); level++) {
            for (ResnetBlock b : down.get(level)) x = block(b, x, h, w, mode);
            Conv d = downsample.get(level);
            if (d != null) {
                float[] y = new float[Math.multiplyExact(d.out(), d.outRows(h) * d.outCols(w))];
                Bands.convolve(d, x, h, w, null, rows, Bands.into(y, d.outCols(w), d.out()));
                x = y;
                h = d.outRows(h);
                w = d.outCols(w);
            }
        }
        x = block(mid1, x, h, w, mode);
        if (attn != null) x = attn.forward(x, h, w);
        x = block(mid2, x, h, w, mode);
        float[] moments = new float[2 * config.zChannels() * h * w];
        Bands.convolve(convOut, x, h, w, normOut.affine(x, h * w), rows, Bands.into(moments, w, 2 * config.zChannels()));
        return moments(moments, h, w);
    }

    private static float[] block(ResnetBlock b, float[] x, int h, int w, Mode mode) {
        return mode.streams(h) ? b.forwardStreamed(x, h, w, mode.rows()) : b.forwardInBands(x, h, w, mode.rows());
    }

    private static long blockBytes(ResnetBlock b, int h, int w, Mode mode) {
        if (!mode.tiled()) return b.peakBytes(h, w);
        return mode.streams(h) ? b.streamedBytes(h, w, mode.rows()) : b.bandedBytes(h, w, mode.rows());
    }

    /** conv_out's channels-last moments [h*w, 2z] -> their mean half as channel planes [z, h, w]. */
    private float[] moments(float[] m, int h, int w) {
        if (quantConv != null) m = quantConv.apply(m, h, w);
        return Arrays.copyOf(ChannelsLast.transpose(m, h * w, 2 * config.zChannels()), config.zChannels() * h * w);
    }

    /** Values in the largest activation of an encode of an h x w image (arrays hold at most 2^31 - 1). */
    long largestActivation(int h, int w) {
        long hw = (long) h * w, max = 0;
        for (int level = 0; level < config.levels(); level++, hw /= 4) max = Math.max(max, Math.max(config.channels(level), 2 * config.zChannels()) * hw);
        return max;
    }

    /** The convolutions of {@link #mean} on an h x w image with the size of the input each runs on, in order. */
    void convs(int h, int w, Decoder.ConvUse use) {
        use.at(convIn, h, w);
        for (int level = 0; level < config.levels(); level++) {
            for (ResnetBlock b : down.get(level)) b.convs(h, w, use);
            if (downsample.get(level) != null) {
                use.at(downsample.get(level), h, w);
                h /= 2;
                w /= 2;
            }
        }
        mid1.convs(h, w, use);
        mid2.convs(h, w, use);
        use.at(convOut, h, w);
        if (quantConv != null) use.at(quantConv, h, w);
    }

    /**
     * Multiply-adds x 2 of an encode of an h x w image in {@code mode}: the convolutions and the attention's
     * products; streamed blocks compute conv1 a second time.
     */
    double flops(int h, int w, Mode mode) {
        int f = config.factor();
        double[] sum = {attn == null ? 0 : attn.flops(h / f, w / f)};
        convs(h, w, (conv, ch, cw) -> sum[0] += conv.flops((long) conv.outRows(ch) * conv.outCols(cw)));
        for (int level = 0; level < config.levels(); level++, h /= 2, w /= 2) {
            for (ResnetBlock b : down.get(level)) if (mode.streams(h)) sum[0] += b.conv1().flops((long) h * w);
            if (level == config.levels() - 1) {
                for (ResnetBlock b : List.of(mid1, mid2)) if (mode.streams(h)) sum[0] += b.conv1().flops((long) h * w);
            }
        }
        return sum[0];
    }

    /**
     * Peak bytes of activations of an encode of an h x w image in {@code mode}, following the arrays each step
     * holds; the image itself, which the caller holds throughout, included.
     */
    long activationBytes(int h, int w, Mode mode) {
        int rows = mode.rows();
        long image = 4L * config.inChannels() * h * w, peak = 0;
        long hw = (long) h * w;
        // conv_in: the channels-last image and the output
        long in = 4L * (config.inChannels() + config.ch()) * hw;
        peak = Math.max(peak, in + (rows == 0 ? convIn.scratchBytes(hw) : Bands.bytes(convIn, h, w, rows)));
        for (int level = 0; level < config.levels(); level++) {
            for (ResnetBlock b : down.get(level)) peak = Math.max(peak, blockBytes(b, h, w, mode));
            Conv d = downsample.get(level);
            if (d != null) {
                long out = (long) d.outRows(h) * d.outCols(w);
                long step = 4L * (d.in() * hw + d.out() * out) + (rows == 0 ? d.scratchBytes(out) : Bands.bytes(d, h, w, rows));
                peak = Math.max(peak, step);
                h = d.outRows(h);
                w = d.outCols(w);
                hw = (long) h * w;
            }
        }
        int c = config.channels(config.levels() - 1), z2 = 2 * config.zChannels();
        for (ResnetBlock b : List.of(mid1, mid2)) peak = Math.max(peak, blockBytes(b, h, w, mode));
        if (attn != null) peak = Math.max(peak, attn.peakBytes(h, w));
        long out = 4L * (c + z2) * hw + (rows == 0 ? convOut.scratchBytes(hw) : Bands.bytes(convOut, h, w, rows));
        // then the moments, quant_conv's output, their transpose and the mean half
        long tail = 4L * ((quantConv == null ? 2L : 3L) * z2 + config.zChannels()) * hw;
        return image + Math.max(peak, Math.max(out, tail));
    }

    /**
     * Native bytes oneDNN's convolution buffers grow to in an encode of an h x w image in {@code mode}: the largest
     * source (in the kernel's type: f32 in an encode) plus the largest f32 destination of any one convolution (or
     * band; streamed blocks' conv1 bands have a row of halo either side).
     */
    long convNativeBytes(int h, int w, Mode mode) {
        long[] most = {0, 0};
        int rows = mode.streamed() ? mode.rows() + 2 : mode.rows();
        convs(h, w, (conv, ch, cw) -> {
            int hIn = rows == 0 ? ch : Bands.inputRows(conv, ch, Math.min(rows, conv.outRows(ch)));
            int hOut = rows == 0 ? conv.outRows(ch) : Math.min(rows, conv.outRows(ch));
            most[0] = Math.max(most[0], conv.oneDnnSourceBytes(hIn, cw));
            most[1] = Math.max(most[1], 4L * conv.out() * hOut * conv.outCols(cw));
        });
        return most[0] + most[1];
    }

    /** Bytes outside the Java heap the mid attention's kernels keep after running on an h x w image (oneDNN's). */
    long attentionNativeBytes(int h, int w) {
        if (attn == null) return 0;
        int f = config.factor(), hw = Math.multiplyExact(h / f, w / f), c = attn.channels();
        return Matmul.kernel().bufferBytes(hw, c, c) + Attention.bufferBytes(hw, hw, 1, c);
    }

    /** Bytes of the weight copies the convolution kernel in use makes once every convolution has run. */
    long weightCopyBytes() {
        long[] sum = {0};
        convs(1, 1, (conv, h, w) -> sum[0] += conv.weightCopyBytes());
        return sum[0];
    }
}
