package fluxj.batch;

import fluxj.condition.ImageCondition;
import fluxj.condition.SourceImage;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The input images of a row, as named in the manifest; read only when the row is generated (a manifest of
 * thousands of img2img rows holds no images in memory). The conditions are those {@code fluxj generate} makes from
 * {@code --init-image}, {@code --mask}, {@code --strength}, {@code --outpaint}, {@code --ref-image} and
 * {@code --control-image}, and each image is recorded in the PNG under the name the manifest gives it.
 *
 * @param outpaint left, top, right, bottom margins, or null
 */
public record RowImages(String initImage, String mask, Double strength, List<Integer> outpaint, List<String> refImages, String controlImage) {
    /** BFL's img2img default, as {@code generate}'s. */
    static final double DEFAULT_STRENGTH = 0.8;

    public RowImages {
        refImages = List.copyOf(refImages);
        outpaint = outpaint == null ? null : List.copyOf(outpaint);
        boolean init = initImage != null;
        if (mask != null && !init) throw new IllegalArgumentException("mask needs init_image (the image whose white mask region is repainted)");
        if (outpaint != null && !init) throw new IllegalArgumentException("outpaint needs init_image (the image to extend)");
        if (outpaint != null && mask != null) throw new IllegalArgumentException("outpaint makes its own mask: give mask or outpaint, not both");
        if (strength != null && !init) throw new IllegalArgumentException("strength needs init_image (it says how much of that image to change)");
        if (strength != null && !(strength >= 0 && strength <= 1)) throw new IllegalArgumentException("strength must be between 0 and 1, got " + strength);
    }

    boolean none() {
        return initImage == null && refImages.isEmpty() && controlImage == null;
    }

    /** The conditions, reading the images now. */
    List<ImageCondition> conditions(Inputs in) throws IOException {
        List<ImageCondition> out = new ArrayList<>();
        if (initImage != null) {
            SourceImage image = read(initImage, in);
            double s = strength != null ? strength : DEFAULT_STRENGTH;
            if (outpaint != null) out.add(new ImageCondition.Outpaint(image, outpaint.get(0), outpaint.get(1), outpaint.get(2), outpaint.get(3)));
            else if (mask != null) out.add(new ImageCondition.Inpaint(image, read(mask, in), s));
            else out.add(new ImageCondition.InitImage(image, s));
        }
        for (String r : refImages) out.add(new ImageCondition.Reference(read(r, in)));
        if (controlImage != null) out.add(new ImageCondition.Control(read(controlImage, in)));
        return out;
    }

    private static SourceImage read(String name, Inputs in) throws IOException {
        SourceImage img = SourceImage.read(in.resolve(name), in.maxPixels());
        return new SourceImage(img.pixels(), name, img.sha256());
    }
}
