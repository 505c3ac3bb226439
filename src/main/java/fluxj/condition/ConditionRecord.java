package fluxj.condition;

import fluxj.condition.ImageCondition.Control;
import fluxj.condition.ImageCondition.Fill;
import fluxj.condition.ImageCondition.InitImage;
import fluxj.condition.ImageCondition.Inpaint;
import fluxj.condition.ImageCondition.Outpaint;
import fluxj.condition.ImageCondition.Reference;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Image conditions in a PNG's parameters: each input image's file name and SHA-256, the strength and the outpainting
 * margins ({@code Init image}, {@code Init image SHA256}, {@code Mask}, {@code Denoising strength} as AUTOMATIC1111
 * names it, {@code Outpaint}, {@code Reference image N}, {@code Control image}), and back.
 */
public final class ConditionRecord {
    /** The name recorded for an image that came from memory, not from a file. */
    public static final String IN_MEMORY = "(in memory)";

    private ConditionRecord() {}

    /** A recorded input file: its name as given, and the SHA-256 of its bytes (null for an image from memory). */
    public record File(String name, String sha256) {
        static File of(SourceImage s) {
            return s.name() == null ? new File(IN_MEMORY, null) : new File(s.name(), s.sha256());
        }

        public boolean inMemory() { return sha256 == null; }
    }

    /**
     * The conditions as recorded.
     *
     * @param init     the init image (img2img, inpainting, Fill, outpainting), or null
     * @param mask     the mask (inpainting, Fill), or null
     * @param strength img2img / inpainting strength, or null
     * @param outpaint left, top, right, bottom margins, or null
     */
    public record Recorded(File init, File mask, Double strength, int[] outpaint, List<File> references, File control) {
        public boolean isEmpty() {
            return init == null && mask == null && strength == null && outpaint == null && references.isEmpty() && control == null;
        }
    }

    /** The parameter fields recording {@code conditions}, in order. */
    public static Map<String, String> fields(List<ImageCondition> conditions) {
        Map<String, String> f = new LinkedHashMap<>();
        int refs = 0;
        for (ImageCondition c : conditions) {
            switch (c) {
                case InitImage i -> {
                    put(f, "Init image", i.image());
                    f.put("Denoising strength", number(i.strength()));
                }
                case Inpaint i -> {
                    put(f, "Init image", i.image());
                    put(f, "Mask", i.mask());
                    f.put("Denoising strength", number(i.strength()));
                }
                case Fill fill -> {
                    put(f, "Init image", fill.image());
                    put(f, "Mask", fill.mask());
                }
                case Outpaint o -> {
                    put(f, "Init image", o.image());
                    f.put("Outpaint", o.left() + "," + o.top() + "," + o.right() + "," + o.bottom());
                }
                case Reference r -> put(f, "Reference image " + ++refs, r.image());
                case Control k -> put(f, "Control image", k.image());
            }
        }
        return f;
    }

    private static void put(Map<String, String> f, String key, SourceImage img) {
        File file = File.of(img);
        f.put(key, file.name());
        if (!file.inMemory()) f.put(key + " SHA256", file.sha256());
    }

    private static String number(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }

    /** The conditions recorded in {@code fields}; fails naming a malformed field. */
    public static Recorded parse(Map<String, String> fields) {
        List<File> refs = new ArrayList<>();
        for (int i = 1; fields.containsKey("Reference image " + i); i++) refs.add(file(fields, "Reference image " + i));
        Double strength = null;
        if (fields.containsKey("Denoising strength")) {
            try {
                strength = Double.parseDouble(fields.get("Denoising strength").strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("parameter 'Denoising strength' is not a number: " + fields.get("Denoising strength"));
            }
        }
        int[] outpaint = fields.containsKey("Outpaint") ? margins("parameter 'Outpaint'", fields.get("Outpaint")) : null;
        return new Recorded(file(fields, "Init image"), file(fields, "Mask"), strength, outpaint, refs, file(fields, "Control image"));
    }

    private static File file(Map<String, String> fields, String key) {
        String name = fields.get(key);
        if (name == null) return null;
        return new File(name, name.equals(IN_MEMORY) ? null : fields.get(key + " SHA256"));
    }

    /** LEFT,TOP,RIGHT,BOTTOM as four non-negative integers ({@code what} names the source in the error). */
    public static int[] margins(String what, String s) {
        String[] p = s.split(",");
        try {
            if (p.length == 4) {
                int[] m = new int[4];
                for (int i = 0; i < 4; i++) m[i] = Integer.parseInt(p[i].strip());
                if (m[0] >= 0 && m[1] >= 0 && m[2] >= 0 && m[3] >= 0) return m;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(what + " must be LEFT,TOP,RIGHT,BOTTOM: four pixel counts >= 0 (e.g. 0,0,256,0), got '" + s + "'");
    }
}
