package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.tensor.ModelFormatException;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Sizes of a FLUX-style KL autoencoder (BFL's {@code AutoEncoderParams}): image channels, base width {@code ch},
 * per-level multipliers, ResNet blocks per level, latent channels, GroupNorm groups and the latent scale/shift.
 * Sizes always come from the tensors; a config map, when given, may only confirm them and supply scale/shift.
 */
public record VaeConfig(int inChannels, int outChannels, int ch, int[] chMult, int numResBlocks, int zChannels,
                        int groups, float scaleFactor, float shiftFactor) {
    /** FLUX.1's latent normalisation constants (the single files carry no config). */
    public static final float FLUX_SCALE = 0.3611f, FLUX_SHIFT = 0.1159f;
    static final int GROUPS = 32;
    static final float EPS = 1e-6f;

    public VaeConfig {
        chMult = chMult.clone();
    }

    public int levels() { return chMult.length; }

    /** Channels of the blocks at resolution level {@code level} (0 = full image resolution). */
    public int channels(int level) { return ch * chMult[level]; }

    /** Image pixels per latent pixel along one axis. */
    public int factor() { return 1 << (levels() - 1); }

    /**
     * Reads the sizes from a checkpoint in BFL names (see {@link VaeLayout}). {@code config} is a diffusers
     * {@code config.json} map, a sidecar {@code ae_params} map (or the sidecar holding one), or null.
     */
    static VaeConfig infer(Checkpoint ck, Map<String, Object> config) {
        String file = ck.description();
        int z = ck.get("decoder.conv_in.weight").dim(1);
        int levels = ck.countIndexed("decoder.up.");
        if (levels == 0) throw new ModelFormatException(file, "decoder has no upsampling levels (no decoder.up.N / decoder.up_blocks.N tensors)");
        int ch = ck.get("decoder.conv_out.weight").dim(1);
        int outCh = ck.get("decoder.conv_out.weight").dim(0);
        int inCh = ck.find("encoder.conv_in.weight").map(t -> t.dim(1)).orElse(outCh);
        int res = ck.countIndexed("decoder.up.0.block.") - 1;
        if (res < 1) throw new ModelFormatException(file, "decoder level 0 has " + (res + 1) + " ResNet blocks, expected at least 2");
        int[] mult = new int[levels];
        for (int i = 0; i < levels; i++) {
            int c = ck.get("decoder.up." + i + ".block.0.conv2.weight").dim(0);
            if (c % ch != 0) throw new ModelFormatException(file, "level " + i + " has " + c + " channels, not a multiple of the base width " + ch);
            mult[i] = c / ch;
        }

        Map<String, Object> c = config == null ? Map.of() : config;
        if (c.get("ae_params") instanceof Map<?, ?> inner) c = cast(inner);
        int groups = (int) number(c, "norm_num_groups", GROUPS);
        confirm(file, c, "ch", ch);
        confirm(file, c, "z_channels", z);
        confirm(file, c, "latent_channels", z);
        confirm(file, c, "num_res_blocks", res);
        confirm(file, c, "layers_per_block", res);
        confirm(file, c, "in_channels", inCh);
        confirm(file, c, "out_ch", outCh);
        confirm(file, c, "out_channels", outCh);
        confirmList(file, c, "ch_mult", mult);
        int[] widths = Arrays.stream(mult).map(m -> m * ch).toArray();
        confirmList(file, c, "block_out_channels", widths);

        float scale, shift;
        if (c.containsKey("scale_factor") || c.containsKey("scaling_factor")) {
            // A config that names its scale also owns the shift: diffusers writes "shift_factor": null (or omits
            // it) for autoencoders without one.
            scale = (float) number(c, c.containsKey("scale_factor") ? "scale_factor" : "scaling_factor", FLUX_SCALE);
            shift = (float) number(c, "shift_factor", 0);
        } else {
            scale = FLUX_SCALE;
            shift = (float) number(c, "shift_factor", FLUX_SHIFT);
        }
        return new VaeConfig(inCh, outCh, ch, mult, res, z, groups, scale, shift);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> cast(Map<?, ?> m) { return (Map<String, Object>) m; }

    private static double number(Map<String, Object> c, String key, double fallback) {
        Object v = c.get(key);
        return v instanceof Number n ? n.doubleValue() : fallback;
    }

    private static void confirm(String file, Map<String, Object> c, String key, int actual) {
        if (c.get(key) instanceof Number n && n.longValue() != actual) {
            throw new ModelFormatException(file, "config says " + key + " = " + n + " but the tensors give " + actual);
        }
    }

    private static void confirmList(String file, Map<String, Object> c, String key, int[] actual) {
        if (!(c.get(key) instanceof List<?> l)) return;
        int[] given = l.stream().mapToInt(v -> v instanceof Number n ? n.intValue() : -1).toArray();
        if (!Arrays.equals(given, actual)) {
            throw new ModelFormatException(file, "config says " + key + " = " + l + " but the tensors give " + Arrays.toString(actual));
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VaeConfig v && v.inChannels == inChannels && v.outChannels == outChannels && v.ch == ch
                && Arrays.equals(v.chMult, chMult) && v.numResBlocks == numResBlocks && v.zChannels == zChannels
                && v.groups == groups && v.scaleFactor == scaleFactor && v.shiftFactor == shiftFactor;
    }

    @Override
    public int hashCode() { return ch * 31 + Arrays.hashCode(chMult) * 17 + zChannels; }

    @Override
    public String toString() {
        return "VaeConfig[ch=" + ch + ", ch_mult=" + Arrays.toString(chMult) + ", num_res_blocks=" + numResBlocks
                + ", z_channels=" + zChannels + ", in=" + inChannels + ", out=" + outChannels + ", groups=" + groups
                + ", scale=" + scaleFactor + ", shift=" + shiftFactor + "]";
    }
}
