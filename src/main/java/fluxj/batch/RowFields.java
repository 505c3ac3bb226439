package fluxj.batch;

import fluxj.pipeline.ModelHash;

import fluxj.lora.LoraRef;
import fluxj.lora.PromptLoras;
import fluxj.pipeline.GenerationRequest;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The fields of a manifest row and how each becomes part of a {@link GenerationRequest}. JSON Lines rows carry
 * typed values (numbers as numbers); CSV cells are text, typed by {@link #fromText} first, so both formats are
 * checked by the same rules.
 */
final class RowFields {
    private enum Kind { STRING, INTEGER, NUMBER, INTERVAL, MARGINS, STRINGS }

    private static final Map<String, Kind> KINDS = kinds(
            "id", Kind.STRING, "prompt", Kind.STRING, "negative_prompt", Kind.STRING, "seed", Kind.INTEGER,
            "width", Kind.INTEGER, "height", Kind.INTEGER, "steps", Kind.INTEGER, "guidance", Kind.NUMBER,
            "cfg_scale", Kind.NUMBER, "guidance_interval", Kind.INTERVAL,
            "init_image", Kind.STRING, "strength", Kind.NUMBER, "mask", Kind.STRING, "outpaint", Kind.MARGINS,
            "ref_images", Kind.STRINGS, "control_image", Kind.STRING, "loras", Kind.STRINGS);

    static final List<String> NAMES = List.copyOf(KINDS.keySet());

    /** Device names Windows reserves whatever the extension: never safe as a file name. */
    private static final Set<String> RESERVED = Set.of("CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4",
            "COM5", "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9");
    private static final int MAX_ID = 128;

    /**
     * A checked row: its request (with the conditions given to {@link #parse(Map, List)}), its input images (null
     * when none) and its fields with typed values and the seed filled in.
     */
    record Parsed(String id, GenerationRequest request, RowImages images, Map<String, Object> fields) {}

    private RowFields() {}

    private static Map<String, Kind> kinds(Object... pairs) {
        Map<String, Kind> m = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) m.put((String) pairs[i], (Kind) pairs[i + 1]);
        return m;
    }

    /** Why {@code id} cannot name a file in any common file system, or null when it can. */
    static String idProblem(String id) {
        if (id.isEmpty()) return "id is empty";
        if (id.length() > MAX_ID) return "id is longer than " + MAX_ID + " characters";
        if (!id.matches("[A-Za-z0-9][A-Za-z0-9._-]*") || id.endsWith(".")) {
            return "id '" + id + "' is not a safe file name: use letters, digits, '.', '_' and '-', starting with a letter or digit and not ending with '.'";
        }
        if (RESERVED.contains(id.split("\\.", 2)[0].toUpperCase(Locale.ROOT))) return "id '" + id + "' is a device name Windows reserves";
        return null;
    }

    /** CSV cells typed by the field they are in; a cell that does not read as its type stays text and is refused by {@link #parse}. */
    static Map<String, Object> fromText(Map<String, Object> cells) {
        Map<String, Object> typed = new LinkedHashMap<>();
        cells.forEach((k, v) -> typed.put(k, KINDS.get(k) == null || !(v instanceof String s) ? v : typed(KINDS.get(k), s)));
        return typed;
    }

    private static Object typed(Kind kind, String s) {
        String t = s.strip();
        try {
            return switch (kind) {
                case STRING -> s;
                case INTEGER -> Long.parseLong(t);
                case NUMBER -> Double.parseDouble(t);
                case INTERVAL -> {
                    String[] p = t.split(",");
                    yield p.length == 2 ? List.of(Double.parseDouble(p[0].strip()), Double.parseDouble(p[1].strip())) : s;
                }
                case MARGINS -> {
                    List<Long> m = new java.util.ArrayList<>();
                    for (String p : t.split(",")) m.add(Long.parseLong(p.strip()));
                    yield m;
                }
                case STRINGS -> List.of(s.split(";"));
            };
        } catch (NumberFormatException e) {
            return s;
        }
    }

    /** The row as a request without its input images (they are read when it is generated). */
    static Parsed parse(Map<String, ?> fields) {
        return parse(fields, List.of());
    }

    /** The row with {@code conditions} (its input images, read) on its request. */
    static Parsed parse(Map<String, ?> fields, List<fluxj.condition.ImageCondition> conditions) {
        for (String k : fields.keySet()) {
            if (!KINDS.containsKey(k)) throw new IllegalArgumentException("unknown field '" + k + "' (known: " + String.join(", ", NAMES) + ")");
        }
        String id = string(fields, "id");
        if (id == null) throw new IllegalArgumentException("no id (each row needs one: it names the output file)");
        String problem = idProblem(id);
        if (problem != null) throw new IllegalArgumentException(problem);
        String prompt = string(fields, "prompt");
        if (prompt == null || prompt.isEmpty()) throw new IllegalArgumentException("no prompt");

        GenerationRequest.Builder b = GenerationRequest.builder(prompt);
        String negative = string(fields, "negative_prompt");
        if (negative != null) b.negativePrompt(negative);
        Long seed = integer(fields, "seed");
        b.seed(seed != null ? seed : seedFor(id));
        Long width = integer(fields, "width"), height = integer(fields, "height"), steps = integer(fields, "steps");
        if (width != null) b.width(toInt("width", width));
        if (height != null) b.height(toInt("height", height));
        if (steps != null) b.steps(toInt("steps", steps));
        Double guidance = number(fields, "guidance"), cfg = number(fields, "cfg_scale");
        if (guidance != null) b.guidance(guidance);
        if (cfg != null) b.cfgScale(cfg);
        double[] interval = interval(fields);
        if (interval != null) b.guidanceInterval(interval[0], interval[1]);
        RowImages images = new RowImages(string(fields, "init_image"), string(fields, "mask"), number(fields, "strength"),
                margins(fields), strings(fields, "ref_images"), string(fields, "control_image"));
        b.conditions(conditions);
        for (String l : strings(fields, "loras")) LoraRef.parse(l);
        PromptLoras.parse(prompt);
        GenerationRequest r = b.build();

        Map<String, Object> out = new LinkedHashMap<>();
        for (String k : NAMES) {
            Object v = fields.get(k);
            if (v != null) out.put(k, KINDS.get(k) == Kind.INTERVAL ? List.of(interval[0], interval[1]) : v instanceof Number n && KINDS.get(k) == Kind.NUMBER ? n.doubleValue() : v);
        }
        out.put("seed", r.seed());
        return new Parsed(id, r, images.none() ? null : images, out);
    }

    /** {@code r} with its LoRAs: the prompt's tags (taken out of it), then those of the {@code loras} field. */
    static GenerationRequest loras(GenerationRequest r, Map<String, ?> fields, Inputs in) {
        PromptLoras.Parsed parsed = PromptLoras.parse(r.prompt());
        List<String> named = strings(fields, "loras");
        if (parsed.tags().isEmpty() && named.isEmpty()) return r;
        List<LoraRef> all = new ArrayList<>(PromptLoras.resolve(parsed.tags(), in.loraDir()));
        for (String s : named) {
            LoraRef l = LoraRef.parse(s);
            all.add(new LoraRef(in.resolve(l.file().toString()), l.weight()));
        }
        for (LoraRef l : all) {
            if (!Files.isRegularFile(l.file())) throw new IllegalArgumentException("LoRA " + l.file() + ": no such file");
        }
        return r.toBuilder().prompt(parsed.prompt()).loras(all).build();
    }

    /**
     * The seed of a row that gives none: the first 32 bits of the SHA-256 of its id, so a rerun, another shard or a
     * retried task makes the same image (a random seed would not).
     */
    static long seedFor(String id) {
        return Long.parseLong(ModelHash.sha256(id.getBytes(StandardCharsets.UTF_8)).substring(0, 8), 16);
    }

    private static String string(Map<String, ?> f, String k) {
        Object v = f.get(k);
        if (v == null || v instanceof String) return (String) v;
        if (k.equals("id") && v instanceof Long l) return l.toString();
        throw new IllegalArgumentException(k + ": expected a string, got " + show(v));
    }

    private static Long integer(Map<String, ?> f, String k) {
        Object v = f.get(k);
        if (v == null) return null;
        if (v instanceof Long || v instanceof Integer) return ((Number) v).longValue();
        throw new IllegalArgumentException(k + ": expected an integer, got " + show(v));
    }

    private static Double number(Map<String, ?> f, String k) {
        Object v = f.get(k);
        if (v == null) return null;
        if (v instanceof Number n) return n.doubleValue();
        throw new IllegalArgumentException(k + ": expected a number, got " + show(v));
    }

    private static double[] interval(Map<String, ?> f) {
        Object v = f.get("guidance_interval");
        if (v == null) return null;
        if (v instanceof List<?> l && l.size() == 2 && l.get(0) instanceof Number lo && l.get(1) instanceof Number hi) {
            return new double[]{lo.doubleValue(), hi.doubleValue()};
        }
        throw new IllegalArgumentException("guidance_interval: expected [LO, HI] (in CSV: \"LO,HI\"), got " + show(v));
    }

    private static List<Integer> margins(Map<String, ?> f) {
        Object v = f.get("outpaint");
        if (v == null) return null;
        if (v instanceof List<?> l && l.size() == 4 && l.stream().allMatch(x -> x instanceof Long n && n >= 0 && n <= 16384)) {
            return l.stream().map(x -> ((Long) x).intValue()).toList();
        }
        throw new IllegalArgumentException("outpaint: expected [LEFT, TOP, RIGHT, BOTTOM], four pixel counts >= 0 (in CSV: \"L,T,R,B\"), got " + show(v));
    }

    private static List<String> strings(Map<String, ?> f, String k) {
        Object v = f.get(k);
        if (v == null) return List.of();
        if (v instanceof List<?> l && !l.isEmpty() && l.stream().allMatch(x -> x instanceof String s && !s.isEmpty())) {
            return l.stream().map(x -> (String) x).toList();
        }
        throw new IllegalArgumentException(k + ": expected a list of file names (in CSV: separated by ';'), got " + show(v));
    }

    private static int toInt(String k, long v) {
        if (v != (int) v) throw new IllegalArgumentException(k + ": " + v + " is out of range");
        return (int) v;
    }

    private static String show(Object v) {
        return v instanceof String s ? "\"" + s + "\"" : fluxj.io.Json.write(v);
    }
}
