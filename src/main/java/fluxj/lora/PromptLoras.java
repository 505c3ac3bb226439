package fluxj.lora;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code <lora:NAME:WEIGHT>} tags in a prompt (AUTOMATIC1111 / stable-diffusion.cpp syntax; WEIGHT 1 when
 * omitted): found, removed from the text the encoders see, and resolved to {@code NAME.safetensors} in a folder.
 */
public final class PromptLoras {
    private static final Pattern TAG = Pattern.compile("<lora:([^:<>]+)(?::([^:<>]*))?>");
    /** The tags {@link #withTags} appends, each after one space. */
    private static final Pattern TRAILING = Pattern.compile("(?: <lora:[^:<>]+(?::[^:<>]*)?>)+$");

    private PromptLoras() {}

    /** One tag: a LoRA by name with its weight. */
    public record Tag(String name, double weight) {}

    /** The prompt without its tags, and the tags in order. */
    public record Parsed(String prompt, List<Tag> tags) {}

    public static Parsed parse(String prompt) {
        List<Tag> tags = new ArrayList<>();
        Matcher m = TAG.matcher(prompt);
        while (m.find()) {
            String w = m.group(2) == null ? "1" : m.group(2).strip();
            if (!LoraRef.isDecimal(w)) throw new IllegalArgumentException("prompt tag " + m.group() + ": the weight '" + w + "' is not a number");
            tags.add(new Tag(m.group(1).strip(), Double.parseDouble(w)));
        }
        return new Parsed(TAG.matcher(prompt).replaceAll(""), tags);
    }

    /** The tags' files: {@code NAME.safetensors} (or NAME itself) in {@code dir}, which must exist. */
    public static List<LoraRef> resolve(List<Tag> tags, Path dir) {
        List<LoraRef> out = new ArrayList<>();
        for (Tag t : tags) {
            if (dir == null) {
                throw new IllegalArgumentException("the prompt names LoRA '" + t.name() + "' (<lora:" + t.name() + ":...>): pass --lora-dir DIR holding "
                        + t.name() + ".safetensors");
            }
            Path f = dir.resolve(t.name() + ".safetensors");
            if (!Files.isRegularFile(f) && Files.isRegularFile(dir.resolve(t.name()))) f = dir.resolve(t.name());
            if (!Files.isRegularFile(f)) throw new IllegalArgumentException("the prompt names LoRA '" + t.name() + "', but " + f + " does not exist");
            out.add(new LoraRef(f, t.weight()));
        }
        return out;
    }

    /** {@code prompt} with a tag for each LoRA appended, as AUTOMATIC1111 records the LoRAs of an image. */
    public static String withTags(String prompt, List<LoraRef> loras) {
        StringBuilder b = new StringBuilder(prompt);
        for (LoraRef r : loras) b.append(" <lora:").append(r.name()).append(':').append(number(r.weight())).append('>');
        return b.toString();
    }

    /** The prompt without the tags {@link #withTags} appended, and those tags' weights. */
    public static Parsed stripAppended(String prompt) {
        Matcher m = TRAILING.matcher(prompt);
        if (!m.find()) return new Parsed(prompt, List.of());
        return new Parsed(prompt.substring(0, m.start()), parse(m.group()).tags());
    }

    static String number(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }
}
