package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.io.ModelKind;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The on-disk layouts of the autoencoder, all mapped to BFL's names (the names of {@code ae.safetensors}):
 * BFL itself, diffusers' {@code AutoencoderKL} ({@code vae/} folder), and either of them inside a bundled
 * checkpoint under ComfyUI's {@code first_stage_model.} or {@code vae.} prefix.
 *
 * <p>diffusers numbers its decoder {@code up_blocks} from the lowest resolution while BFL's {@code decoder.up.N}
 * is indexed by resolution level (0 = full size), so {@code up_blocks.M} is {@code up.(levels-1-M)}.
 */
public final class VaeLayout {
    private static final String[] PREFIXES = {"", "first_stage_model.", "vae."};
    private static final Pattern DOWN = Pattern.compile("encoder\\.down_blocks\\.(\\d+)\\.(resnets|downsamplers)\\.(\\d+)\\.(.*)");
    private static final Pattern UP = Pattern.compile("decoder\\.up_blocks\\.(\\d+)\\.(resnets|upsamplers)\\.(\\d+)\\.(.*)");
    private static final Pattern MID_RESNET = Pattern.compile("(encoder|decoder)\\.mid_block\\.resnets\\.(\\d+)\\.(.*)");
    private static final Pattern MID_ATTN = Pattern.compile("(encoder|decoder)\\.mid_block\\.attentions\\.0\\.(group_norm|to_q|to_k|to_v|to_out\\.0|query|key|value|proj_attn)\\.(weight|bias)");

    private static final Pattern ENCODER = Pattern.compile("(^|.*\\.)(encoder|quant_conv)\\..*");

    private VaeLayout() {}

    /**
     * Whether a tensor of an autoencoder checkpoint, in any of these layouts, belongs to the encoder side (the
     * encoder and its quant_conv; post_quant_conv is the decoder's).
     */
    public static boolean isEncoderTensor(String name) { return ENCODER.matcher(name).matches(); }

    /** The autoencoder tensors of {@code ck} under BFL names; a view sharing the mapped files. */
    public static Checkpoint toBfl(Checkpoint ck) {
        for (String p : PREFIXES) {
            if (ck.has(p + "decoder.conv_in.weight")) {
                Checkpoint view = p.isEmpty() ? ck : ck.withPrefix(p);
                boolean diffusers = view.names().stream().anyMatch(n -> n.startsWith("decoder.up_blocks.") || n.startsWith("decoder.mid_block."));
                return diffusers ? fromDiffusers(view) : view;
            }
        }
        throw new ModelFormatException(ck.description(), "not a VAE: no decoder.conv_in.weight (also looked under "
                + "first_stage_model. and vae.); " + looksLike(ck));
    }

    private static Checkpoint fromDiffusers(Checkpoint ck) {
        int levels = ck.countIndexed("decoder.up_blocks.");
        Map<String, Tensor> out = new LinkedHashMap<>();
        ck.tensors().forEach((name, t) -> out.put(bflName(name, levels), t));
        return Checkpoint.of(ck.description(), out);
    }

    /** The BFL name of a diffusers tensor name, given the number of decoder levels. */
    static String bflName(String name, int levels) {
        Matcher m;
        if ((m = DOWN.matcher(name)).matches()) {
            return m.group(2).equals("resnets")
                    ? "encoder.down." + m.group(1) + ".block." + m.group(3) + "." + resnetPart(m.group(4))
                    : "encoder.down." + m.group(1) + ".downsample." + m.group(4);
        }
        if ((m = UP.matcher(name)).matches()) {
            int level = levels - 1 - Integer.parseInt(m.group(1));
            return m.group(2).equals("resnets")
                    ? "decoder.up." + level + ".block." + m.group(3) + "." + resnetPart(m.group(4))
                    : "decoder.up." + level + ".upsample." + m.group(4);
        }
        if ((m = MID_RESNET.matcher(name)).matches()) {
            return m.group(1) + ".mid.block_" + (Integer.parseInt(m.group(2)) + 1) + "." + resnetPart(m.group(3));
        }
        if ((m = MID_ATTN.matcher(name)).matches()) {
            String part = switch (m.group(2)) {
                case "group_norm" -> "norm";
                case "to_q", "query" -> "q";
                case "to_k", "key" -> "k";
                case "to_v", "value" -> "v";
                default -> "proj_out";
            };
            return m.group(1) + ".mid.attn_1." + part + "." + m.group(3);
        }
        return name.replace("coder.conv_norm_out.", "coder.norm_out.");
    }

    private static String resnetPart(String rest) {
        return rest.startsWith("conv_shortcut.") ? "nin_shortcut." + rest.substring("conv_shortcut.".length()) : rest;
    }

    /** What a checkpoint that is not a VAE seems to be, for the error message. */
    static String looksLike(Checkpoint ck) {
        return "it looks like: " + ModelKind.of(ck).describe();
    }
}
