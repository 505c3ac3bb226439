package fluxj.pipeline;

import fluxj.condition.ConditionRecord;
import fluxj.io.Json;
import fluxj.lora.LoraHash;
import fluxj.lora.LoraRef;
import fluxj.lora.PromptLoras;
import fluxj.memory.WeightDtype;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Generation parameters as the "parameters" text of AUTOMATIC1111-style PNGs, which image browsers, Civitai and
 * other UIs read: the prompt, an optional {@code Negative prompt: } line, then one line of {@code Key: value}
 * pairs separated by ", " (values holding ',', ':' or '"' are JSON-quoted).
 *
 * @param fields the key/value pairs of the last line, in order
 */
public record Infotext(String prompt, String negativePrompt, Map<String, String> fields) {
    public static final String VERSION = "fluxj 0.1.0";
    /** The field of an image stopped before its last step (an interrupt or skip): the steps it made. */
    public static final String STOPPED_AT = "Stopped at step";
    private static final Pattern PARAM = Pattern.compile("\\s*(\\w[\\w \\-/]+):\\s*(\"(?:\\\\.|[^\\\\\"])+\"|[^,]*)(?:,|$)");

    public Infotext {
        fields = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    /** The parameters of a finished generation ({@code r} with every default resolved). */
    public static Infotext of(GenerationRequest r, String modelName, String modelHash) {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("Steps", String.valueOf(r.steps()));
        f.put("Sampler", "Euler");
        f.put("CFG scale", number(r.cfgScale()));
        f.put("Seed", Long.toString(r.seed()));
        f.put("Size", r.width() + "x" + r.height());
        f.put("Model hash", modelHash);
        f.put("Model", modelName);
        f.put("Guidance", number(r.guidance()));
        if (r.trueCfg()) f.put("Guidance interval", number(r.intervalLo()) + "," + number(r.intervalHi()));
        if (r.weightDtype() != null && r.weightDtype() != WeightDtype.STORED) f.put("Weight dtype", r.weightDtype().label());
        f.putAll(ConditionRecord.fields(r.conditions()));
        String prompt = r.prompt();
        if (!r.loras().isEmpty()) {
            // As AUTOMATIC1111 records LoRAs: a <lora:NAME:WEIGHT> tag each in the prompt, and their hashes; the
            // files themselves so that --from finds them again.
            prompt = PromptLoras.withTags(prompt, r.loras());
            List<String> hashes = new ArrayList<>(), files = new ArrayList<>();
            for (LoraRef l : r.loras()) {
                try {
                    hashes.add(l.name() + ": " + LoraHash.of(l.file()));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                files.add(l.file().toAbsolutePath().normalize().toString());
            }
            f.put("Lora hashes", String.join(", ", hashes));
            f.put("Lora files", Json.write(files));
        }
        f.put("Version", VERSION);
        return new Infotext(prompt, r.trueCfg() ? r.negativePrompt() : "", f);
    }

    /** These parameters with {@code key} set to {@code value}, a new key placed before "Version". */
    public Infotext with(String key, String value) {
        Map<String, String> f = new LinkedHashMap<>();
        fields.forEach((k, v) -> {
            if (k.equals("Version") && !fields.containsKey(key)) f.put(key, value);
            f.put(k, k.equals(key) ? value : v);
        });
        f.putIfAbsent(key, value);
        return new Infotext(prompt, negativePrompt, f);
    }

    /** A number as the parameters write it: integral values without a fraction. */
    public static String number(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }

    public String format() {
        StringBuilder b = new StringBuilder(prompt);
        if (!negativePrompt.isEmpty()) b.append("\nNegative prompt: ").append(negativePrompt);
        StringBuilder line = new StringBuilder();
        fields.forEach((k, v) -> {
            if (!line.isEmpty()) line.append(", ");
            line.append(k).append(": ").append(quote(v));
        });
        return b.append('\n').append(line).toString();
    }

    private static String quote(String v) {
        if (!(v.contains(",") || v.contains(":") || v.contains("\"") || v.contains("\n"))) return v;
        StringBuilder q = new StringBuilder("\"");
        for (char c : v.toCharArray()) {
            switch (c) {
                case '"' -> q.append("\\\"");
                case '\\' -> q.append("\\\\");
                case '\n' -> q.append("\\n");
                default -> q.append(c);
            }
        }
        return q.append('"').toString();
    }

    private static String unquote(String v) {
        if (v.length() < 2 || !v.startsWith("\"") || !v.endsWith("\"")) return v;
        StringBuilder b = new StringBuilder();
        for (int i = 1; i < v.length() - 1; i++) {
            char c = v.charAt(i);
            if (c == '\\' && i + 1 < v.length() - 1) {
                char n = v.charAt(++i);
                b.append(n == 'n' ? '\n' : n);
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    /** Reads the text back the way AUTOMATIC1111 does: the last line is the parameters when it has 3+ pairs. */
    public static Infotext parse(String text) {
        String[] lines = text.strip().split("\n", -1);
        Map<String, String> f = new LinkedHashMap<>();
        int promptLines = lines.length;
        Matcher m = PARAM.matcher(lines[lines.length - 1]);
        Map<String, String> found = new LinkedHashMap<>();
        while (m.find()) found.put(m.group(1).strip(), unquote(m.group(2).strip()));
        if (found.size() >= 3) {
            f.putAll(found);
            promptLines--;
        }
        java.util.List<String> prompt = new java.util.ArrayList<>(), neg = new java.util.ArrayList<>();
        for (int i = 0; i < promptLines; i++) {
            String l = lines[i];
            if (neg.isEmpty() && l.startsWith("Negative prompt:")) neg.add(l.substring("Negative prompt:".length()).strip());
            else (neg.isEmpty() ? prompt : neg).add(l);
        }
        return new Infotext(String.join("\n", prompt), String.join("\n", neg), f);
    }

    /**
     * The request that regenerates this image: prompt, negative prompt, size, steps, seed, guidance, CFG scale,
     * guidance interval and weight dtype. Fails naming the first field that is missing or malformed.
     */
    public GenerationRequest toRequest() {
        GenerationRequest.Builder b = GenerationRequest.builder(prompt).negativePrompt(negativePrompt);
        String size = required("Size");
        String[] wh = size.toLowerCase(Locale.ROOT).split("x");
        if (wh.length != 2) throw new IllegalArgumentException("parameter 'Size' is not WIDTHxHEIGHT: " + size);
        b.size(integer("Size", wh[0]), integer("Size", wh[1]));
        b.steps(integer("Steps", required("Steps")));
        b.seed(Long.parseLong(required("Seed").strip()));
        if (fields.containsKey("Guidance")) b.guidance(real("Guidance", fields.get("Guidance")));
        if (fields.containsKey("CFG scale")) b.cfgScale(real("CFG scale", fields.get("CFG scale")));
        if (fields.containsKey("Guidance interval")) {
            String[] lh = fields.get("Guidance interval").split(",");
            if (lh.length != 2) throw new IllegalArgumentException("parameter 'Guidance interval' is not LO,HI: " + fields.get("Guidance interval"));
            b.guidanceInterval(real("Guidance interval", lh[0]), real("Guidance interval", lh[1]));
        }
        if (fields.containsKey("Weight dtype")) b.weightDtype(WeightDtype.parse(fields.get("Weight dtype")));
        if (fields.containsKey("Lora files")) b.loras(loras()).prompt(PromptLoras.stripAppended(prompt).prompt());
        return b.build();
    }

    /** The LoRAs fluxj recorded: the files of "Lora files" with the weights of the tags appended to the prompt. */
    private List<LoraRef> loras() {
        String text = fields.get("Lora files");
        List<PromptLoras.Tag> tags = PromptLoras.stripAppended(prompt).tags();
        Object parsed;
        try {
            parsed = Json.parse(text);
        } catch (Json.JsonException e) {
            parsed = null;
        }
        if (!(parsed instanceof List<?> files) || !files.stream().allMatch(x -> x instanceof String) || files.size() != tags.size()) {
            throw new IllegalArgumentException("parameter 'Lora files' is not a list of " + tags.size() + " files (one per <lora:...> tag at the end of the prompt): " + text);
        }
        List<LoraRef> out = new ArrayList<>();
        for (int i = 0; i < files.size(); i++) out.add(new LoraRef(Path.of((String) files.get(i)), tags.get(i).weight()));
        return out;
    }

    private String required(String k) {
        String v = fields.get(k);
        if (v == null) throw new IllegalArgumentException("the parameters hold no '" + k + "'");
        return v;
    }

    private static int integer(String k, String v) {
        try {
            return Integer.parseInt(v.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("parameter '" + k + "' is not an integer: " + v);
        }
    }

    private static double real(String k, String v) {
        try {
            return Double.parseDouble(v.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("parameter '" + k + "' is not a number: " + v);
        }
    }
}
