package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.tensor.ChannelsLast;
import fluxj.tensor.Conv2d;

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
        float[] moments = convOut.apply(normOut.siluInPlace(x, h * w), h, w);
        if (quantConv != null) moments = quantConv.apply(moments, h, w);
        return Arrays.copyOf(ChannelsLast.transpose(moments, h * w, 2 * config.zChannels()), config.zChannels() * h * w);
    }
}
