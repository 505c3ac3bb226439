package fluxj.cli;

import fluxj.condition.ConditionRecord;
import fluxj.condition.ImageCondition;
import fluxj.condition.ImageConditioning;
import fluxj.condition.ModelInput;
import fluxj.condition.SourceImage;
import fluxj.pipeline.GenerationRequest;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The image options of {@code generate}: the images are read and checked before any model is loaded, over the
 * ones recorded in a {@code --from} PNG (an option given here replaces the recorded one).
 */
final class ImageOptions {
    /** BFL's img2img demo default. */
    static final double DEFAULT_STRENGTH = 0.8;
    /** Bytes an input pixel costs until it is encoded (decoded image, 8-bit copy, resized copy, float pixels). */
    static final long BYTES_PER_INPUT_PIXEL = 32;

    @Option(names = "--init-image", paramLabel = "FILE", description = "img2img: start from this PNG/JPEG (with --mask: inpainting, or FLUX.1 Fill with a Fill model). "
            + "Without --width/--height the size is this image's, rounded down to multiples of 16.")
    Path initImage;
    @Option(names = "--strength", paramLabel = "S", description = "How much of --init-image to change, 0..1 (default " + DEFAULT_STRENGTH + "; Fill models take none).")
    Double strength;
    @Option(names = "--mask", paramLabel = "FILE", description = "Inpainting mask for --init-image (read as grayscale): white = repaint, black = keep.")
    Path mask;
    @Option(names = "--outpaint", paramLabel = "L,T,R,B", description = "FLUX.1 Fill: extend --init-image by these many pixels left, top, right, bottom.")
    String outpaint;
    @Option(names = "--ref-image", paramLabel = "FILE", description = "FLUX.1 Kontext reference image (repeatable; several are laid out as ComfyUI's \"offset\" method). "
            + "Without --width/--height the size is the first one's Kontext resolution.")
    List<Path> refImages = new ArrayList<>();
    @Option(names = "--control-image", paramLabel = "FILE", description = "Canny/Depth control models: a ready edge or depth map.")
    Path controlImage;

    /**
     * The conditions of these options over those {@code recorded} in the PNG {@code from} (null: none).
     *
     * @param maxPixels the largest input image to read
     */
    List<ImageCondition> conditions(ConditionRecord.Recorded recorded, Path from, long maxPixels) throws IOException {
        if (strength != null && !(strength >= 0 && strength <= 1)) throw new IllegalArgumentException("--strength must be between 0 and 1, got " + strength);
        ConditionRecord.Recorded rec = recorded == null ? new ConditionRecord.Recorded(null, null, null, null, List.of(), null) : recorded;
        boolean init = initImage != null || rec.init() != null;
        boolean hasMask = mask != null || rec.mask() != null && initImage == null;
        int[] margins = outpaint != null ? ConditionRecord.margins("--outpaint", outpaint) : initImage == null && mask == null ? rec.outpaint() : null;
        if (mask != null && !init) throw new IllegalArgumentException("--mask needs --init-image (the image whose white mask region is repainted)");
        if (outpaint != null && !init) throw new IllegalArgumentException("--outpaint needs --init-image (the image to extend)");
        if (outpaint != null && mask != null) throw new IllegalArgumentException("--outpaint makes its own mask: give --mask or --outpaint, not both");
        if (strength != null && !init) throw new IllegalArgumentException("--strength needs --init-image (it says how much of that image to change)");

        List<ImageCondition> out = new ArrayList<>();
        if (init) {
            SourceImage image = load("--init-image", initImage, rec.init(), from, maxPixels);
            double s = strength != null ? strength : rec.strength() != null ? rec.strength() : DEFAULT_STRENGTH;
            if (margins != null) {
                out.add(new ImageCondition.Outpaint(image, margins[0], margins[1], margins[2], margins[3]));
            } else if (hasMask) {
                out.add(new ImageCondition.Inpaint(image, load("--mask", mask, rec.mask(), from, maxPixels), s));
            } else {
                out.add(new ImageCondition.InitImage(image, s));
            }
        }
        if (!refImages.isEmpty()) {
            for (Path p : refImages) out.add(new ImageCondition.Reference(load("--ref-image", p, null, from, maxPixels)));
        } else {
            for (ConditionRecord.File f : rec.references()) out.add(new ImageCondition.Reference(load("--ref-image", null, f, from, maxPixels)));
        }
        if (controlImage != null || rec.control() != null) out.add(new ImageCondition.Control(load("--control-image", controlImage, rec.control(), from, maxPixels)));
        return out;
    }

    /** {@code r} as the loaded model takes it ({@link ImageConditioning#forModel}), noting a strength a Fill model ignores. */
    GenerationRequest forModel(GenerationRequest r, ModelInput input, Consumer<String> notes) {
        List<ImageCondition> cs = ImageConditioning.forModel(r.conditions(), input);
        if (cs == r.conditions()) return r;
        if (strength != null && r.conditions().stream().anyMatch(c -> c instanceof ImageCondition.Inpaint)) {
            notes.accept("--strength has no effect with a FLUX.1 Fill model (it generates the masked region from noise)");
        }
        return r.toBuilder().conditions(cs).build();
    }

    /** The image of {@code option} when given, else the {@code recorded} one, which must still be what it was. */
    private static SourceImage load(String option, Path given, ConditionRecord.File recorded, Path from, long maxPixels) throws IOException {
        if (given != null) return SourceImage.read(given, maxPixels);
        if (recorded.inMemory()) {
            throw new IllegalArgumentException(from + " was made from an image given in memory, not a file: give " + option + " FILE");
        }
        Path p = Path.of(recorded.name());
        // a relative name was relative to where the first run ran; the PNG's own folder is the other likely place
        if (!Files.isRegularFile(p) && !p.isAbsolute() && from.toAbsolutePath().getParent() != null) {
            Path beside = from.toAbsolutePath().getParent().resolve(p.getFileName());
            if (Files.isRegularFile(beside)) p = beside;
        }
        if (!Files.isRegularFile(p)) {
            throw new IllegalArgumentException(recorded.name() + ", the " + option.substring(2) + " " + from + " was made from, is missing: give " + option + " FILE");
        }
        SourceImage img = SourceImage.read(p, maxPixels);
        if (recorded.sha256() != null && !recorded.sha256().equalsIgnoreCase(img.sha256())) {
            throw new IllegalArgumentException(p + ", the " + option.substring(2) + " " + from + " was made from, has changed since (SHA-256 "
                    + img.sha256().substring(0, 12) + "..., recorded " + recorded.sha256().substring(0, Math.min(12, recorded.sha256().length()))
                    + "...): give " + option + " " + p + " to use it as it is now");
        }
        return new SourceImage(img.pixels(), recorded.name(), img.sha256());
    }
}
