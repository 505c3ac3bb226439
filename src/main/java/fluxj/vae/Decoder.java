package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.tensor.Attention;
import fluxj.tensor.ChannelsLast;
import fluxj.tensor.ConvInput;
import fluxj.tensor.Matmul;
import fluxj.tensor.Upsample;

import java.lang.ref.SoftReference;
import java.util.ArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.List;

/**
 * Latent [z, h, w] (already un-scaled) to image [out, f*h, f*w], f = 2^(levels-1): conv_in, mid (ResNet,
 * attention, ResNet), then from the lowest resolution up: num_res_blocks+1 ResNets per level and a nearest 2x
 * upsample + 3x3 conv between levels, GroupNorm + SiLU, conv_out. Activations in between are channels-last
 * [pixels, C] (see {@link fluxj.tensor.Conv2d}); only the latent and the image are channel planes.
 */
public final class Decoder {
    private final VaeConfig config;
    private final Conv postQuantConv, convIn, convOut;
    private final ResnetBlock mid1, mid2;
    private final AttnBlock attn;
    private final List<List<ResnetBlock>> up = new ArrayList<>();
    private final List<Conv> upsample = new ArrayList<>();
    private final GroupNorm normOut;
    /**
     * The fused decode's activation arrays, kept between tiles and decodes (see {@link #upperFused}) until
     * {@link #releaseWorkspace}; softly, so the collector may still take them when the heap runs short.
     */
    private final AtomicReference<SoftReference<Recycler>> kept = new AtomicReference<>();

    Decoder(Checkpoint ck, VaeConfig c) {
        config = c;
        int z = c.zChannels(), top = c.channels(c.levels() - 1), g = c.groups();
        postQuantConv = ck.has("post_quant_conv.weight") ? Conv.pointwise(ck, "post_quant_conv", z, z) : null;
        convIn = Conv.same3x3(ck, "decoder.conv_in", z, top);
        mid1 = ResnetBlock.load(ck, "decoder.mid.block_1.", top, top, g);
        attn = ck.has("decoder.mid.attn_1.q.weight") ? AttnBlock.load(ck, "decoder.mid.attn_1.", top, g) : null;
        mid2 = ResnetBlock.load(ck, "decoder.mid.block_2.", top, top, g);
        int in = top;
        for (int level = 0; level < c.levels(); level++) {
            up.add(null);
            upsample.add(null);
        }
        for (int level = c.levels() - 1; level >= 0; level--) {
            List<ResnetBlock> blocks = new ArrayList<>();
            for (int i = 0; i <= c.numResBlocks(); i++) {
                blocks.add(ResnetBlock.load(ck, "decoder.up." + level + ".block." + i + ".", in, c.channels(level), g));
                in = c.channels(level);
            }
            up.set(level, blocks);
            if (level > 0) upsample.set(level, Conv.same3x3(ck, "decoder.up." + level + ".upsample.conv", in, in));
        }
        normOut = GroupNorm.load(ck, "decoder.norm_out", in, g);
        convOut = Conv.same3x3(ck, "decoder.conv_out", in, c.outChannels());
    }

    public VaeConfig config() { return config; }

    /** z [zc, h, w] in the decoder's own scale (after z / scale + shift) -> image [out, f*h, f*w]. */
    public float[] decode(float[] z, int h, int w) {
        int f = config.factor();
        float[] image = decodeChannelsLast(ChannelsLast.transpose(z, config.zChannels(), h * w), h, w);
        return ChannelsLast.transpose(image, h * w * f * f, config.outChannels());
    }

    /** As {@link #decode} with both ends channels-last: z [h*w, zc] -> image [f*h*f*w, out]. */
    float[] decodeChannelsLast(float[] z, int h, int w) {
        return upper(trunk(z, h, w), h, w);
    }

    /** Values in the largest activation of an untiled decode of an h x w latent (arrays hold at most 2^31 - 1). */
    long largestActivation(int h, int w) {
        long hw = (long) h * w, max = 0;
        for (int level = config.levels() - 1; level >= 0; level--) {
            max = Math.max(max, config.channels(level) * hw);
            if (level > 0) {
                hw *= 4;
                max = Math.max(max, config.channels(level) * hw);
            }
        }
        return max;
    }

    /**
     * Bytes outside the Java heap the mid attention's kernels keep after running on an h x w latent (oneDNN's
     * buffers for its projections and attention; none on the Java path).
     */
    long attentionNativeBytes(int h, int w) {
        if (attn == null) return 0;
        int hw = Math.multiplyExact(h, w), c = attn.channels();
        return Matmul.kernel().bufferBytes(hw, c, c) + Attention.bufferBytes(hw, hw, 1, c);
    }

    /** Channels of the {@link #trunk} output. */
    int trunkChannels() { return config.channels(config.levels() - 1); }

    /**
     * The lowest-resolution part, channels-last z [h*w, zc] -> [h*w, trunkChannels]: conv_in, mid (with the only
     * attention) and the lowest level's ResNets. Small next to the rest (1/f^2 of the pixels), and the one part
     * whose attention sees the whole latent, so tiled decoding runs it untiled.
     */
    float[] trunk(float[] z, int h, int w) {
        float[] x = postQuantConv == null ? z : postQuantConv.apply(z, h, w);
        x = convIn.apply(x, h, w);
        x = block(mid1, x, h, w);
        if (attn != null) x = attn.forward(x, h, w);
        x = block(mid2, x, h, w);
        for (ResnetBlock b : up.get(config.levels() - 1)) x = block(b, x, h, w);
        return x;
    }

    /** A trunk block, fused when the kernel fuses (its arrays are small: a fresh set each time). */
    private static float[] block(ResnetBlock b, float[] x, int h, int w) {
        return Conv.fused() ? b.forward(x, null, h, w, new Recycler(), null) : b.forward(x, h, w);
    }

    /** The upsampling levels and output, trunk features [h*w, trunkChannels] -> channels-last image [f*h*f*w, out]. */
    float[] upper(float[] x, int h, int w) {
        // The activations here are the decode's largest arrays (up to 1 GB at 1024x1024): recycled within a level
        // rather than left to the collector, which grew the heap into fresh memory for them and slowed the decode
        // by its page faults.
        // A fusing kernel sums each output's moments as it writes it: x's, for the norm that reads it next.
        boolean fused = Conv.fused();
        if (fused) {
            SoftReference<Recycler> held = kept.getAndSet(null);
            Recycler arrays = held == null ? null : held.get();
            if (arrays == null) arrays = new Recycler();
            float[] image = upperFused(x, h, w, arrays);
            kept.set(new SoftReference<>(arrays));
            return image;
        }
        Recycler arrays = new Recycler();
        for (int level = config.levels() - 1; level >= 0; level--) {
            if (level < config.levels() - 1) {
                for (ResnetBlock b : up.get(level)) {
                    float[] next = b.forward(x, h, w, arrays);
                    if (b.in() == b.out()) arrays.give(x);
                    x = next;
                }
            }
            if (level > 0) {
                int c = config.channels(level);
                float[] doubled = arrays.take(Math.multiplyExact(4 * c, h * w));
                Upsample.nearest2x(x, c, h, w, doubled);
                // Arrays of the old size would only be held: drop them for the collector.
                arrays.clear();
                h *= 2;
                w *= 2;
                x = upsample.get(level).apply(doubled, h, w, arrays.take(Math.multiplyExact(c, h * w)));
                arrays.give(doubled);
            }
        }
        return convOut.apply(normOut.siluInPlace(x, h * w), h, w);
    }

    /**
     * {@link #upper} for a kernel that {@link Conv#fused() fuses}: every norm, SiLU and upsample is applied as a
     * convolution reads its input and every norm's statistics summed as the convolution before it writes, so an
     * activation is an array only between convolutions. The arrays come from {@code arrays} and go back to it,
     * x included (the caller's, no longer read), and are reused whatever the level (a larger array serves a
     * smaller activation): kept with the decoder, the next tile or decode touches no fresh memory.
     */
    private float[] upperFused(float[] x, int h, int w, Recycler arrays) {
        ChannelsLast.Moments moments = null;
        for (int level = config.levels() - 1; level >= 0; level--) {
            if (level < config.levels() - 1) {
                for (ResnetBlock b : up.get(level)) {
                    ChannelsLast.Moments m = new ChannelsLast.Moments(b.out());
                    float[] next = b.forward(x, moments, h, w, arrays, m);
                    arrays.give(x);
                    x = next;
                    moments = m;
                }
            }
            if (level > 0) {
                int c = config.channels(level);
                h *= 2;
                w *= 2;
                moments = new ChannelsLast.Moments(c);
                // The kernel reads each pixel where the 2x copy would have it: no doubled array.
                float[] next = upsample.get(level).apply(ConvInput.upsampled(x, c), h, w, arrays.take(Math.multiplyExact(c, h * w)), null, moments);
                arrays.give(x);
                x = next;
            }
        }
        ChannelsLast.Affine f = moments != null ? normOut.affine(moments) : normOut.affine(x, h * w);
        float[] image = convOut.apply(ConvInput.normalized(x, f, true), h, w, new float[Math.multiplyExact(convOut.out(), h * w)], null, null);
        arrays.give(x);
        return image;
    }

    /** Frees the activation arrays kept between decodes (a phase's workspace, not the model's). */
    void releaseWorkspace() { kept.set(null); }

    /**
     * Multiply-adds x 2 of {@link #decode} on an h x w latent: every convolution and the attention's products (the
     * arithmetic a GEMM rate compares with; norms and activations are a few element-wise passes).
     */
    public double flops(int h, int w) { return trunkFlops(h, w) + upperFlops(h, w); }

    /** Multiply-adds x 2 of {@link #trunk} on an h x w latent. */
    double trunkFlops(int h, int w) {
        double[] f = {attn == null ? 0 : attn.flops(h, w)};
        // The decoder's convolutions keep their input's size (stride 1, same padding).
        trunkConvs(h, w, (conv, ch, cw) -> f[0] += conv.flops((long) ch * cw));
        return f[0];
    }

    /** Multiply-adds x 2 of {@link #upper} on h x w trunk features. */
    double upperFlops(int h, int w) {
        double[] f = {0};
        upperConvs(h, w, (conv, ch, cw) -> f[0] += conv.flops((long) ch * cw));
        return f[0];
    }

    /** A convolution of a decode and the size of the input it runs on. */
    interface ConvUse { void at(Conv conv, int h, int w); }

    /** The convolutions of {@link #trunk} on an h x w latent, in order. */
    void trunkConvs(int h, int w, ConvUse use) {
        if (postQuantConv != null) use.at(postQuantConv, h, w);
        use.at(convIn, h, w);
        mid1.convs(h, w, use);
        mid2.convs(h, w, use);
        for (ResnetBlock b : up.get(config.levels() - 1)) b.convs(h, w, use);
    }

    /** The convolutions of {@link #upper} on h x w trunk features, in order. */
    void upperConvs(int h, int w, ConvUse use) {
        for (int level = config.levels() - 1; level >= 0; level--) {
            if (level < config.levels() - 1) {
                for (ResnetBlock b : up.get(level)) b.convs(h, w, use);
            }
            if (level > 0) {
                h *= 2;
                w *= 2;
                use.at(upsample.get(level), h, w);
            }
        }
        use.at(convOut, h, w);
    }

    /** Bytes of the weight copies the convolution kernel in use makes once every convolution has run (see {@link Conv#weightCopyBytes}). */
    long weightCopyBytes() {
        long[] sum = {0};
        // A decode runs every convolution once, whatever the size.
        ConvUse add = (conv, h, w) -> sum[0] += conv.weightCopyBytes();
        trunkConvs(1, 1, add);
        upperConvs(1, 1, add);
        return sum[0];
    }

    /** Bytes of activations live at the peak of {@link #decode} on an h x w latent. */
    public long activationBytes(int h, int w) {
        return Math.max(trunkBytes(h, w), upperBytes(h, w));
    }

    /**
     * Peak bytes of {@link #trunk} on an h x w latent: the largest of its steps' inputs + outputs + convolution
     * scratch, following the arrays the forward pass allocates (the latent in both layouts).
     */
    long trunkBytes(int h, int w) {
        long hw = (long) h * w;
        long peak = (2L * config.zChannels() + trunkChannels()) * hw * 4 + convIn.scratchBytes(hw);
        peak = Math.max(peak, mid1.peakBytes(h, w));
        if (attn != null) peak = Math.max(peak, attn.peakBytes(h, w));
        for (ResnetBlock b : up.get(config.levels() - 1)) peak = Math.max(peak, b.peakBytes(h, w));
        return peak;
    }

    /** Peak bytes of {@link #upper} on h x w trunk features (the output image included, in both layouts). */
    long upperBytes(int h, int w) {
        long hw = (long) h * w, peak = 0;
        for (int level = config.levels() - 1; level >= 0; level--) {
            if (level < config.levels() - 1) {
                for (ResnetBlock b : up.get(level)) peak = Math.max(peak, b.peakBytes(h, w));
            }
            if (level > 0) {
                long c = config.channels(level);
                // the input and its 4x copy, then the copy and the conv output
                peak = Math.max(peak, Math.max(5 * c * hw * 4, 8 * c * hw * 4 + upsample.get(level).scratchBytes(4 * hw)));
                h *= 2;
                w *= 2;
                hw *= 4;
            }
        }
        return Math.max(peak, ((long) config.channels(0) + 2L * config.outChannels()) * hw * 4 + convOut.scratchBytes(hw));
    }
}
