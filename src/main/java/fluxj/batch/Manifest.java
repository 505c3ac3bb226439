package fluxj.batch;

import fluxj.io.Json;
import fluxj.pipeline.GenerationRequest;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A batch manifest: one image per row, as JSON Lines (one object per line) or CSV with a header row (RFC 4180).
 * Rows are checked one by one: a bad row becomes an {@link Invalid} entry with its line number and the others stay
 * usable. Problems of the whole file (malformed CSV, unknown or missing columns) throw {@link ManifestException}.
 * Fields are those of {@link RowFields}; each row's PNG is named {@code <id>.png}.
 */
public final class Manifest {
    /** What a row became: a {@link Row} to generate or an {@link Invalid} one to report. */
    public sealed interface Entry permits Row, Invalid {
        /** 0-based position among the manifest's rows (header and blank lines not counted): what shards split. */
        int index();

        /** 1-based line of the manifest the row starts on. */
        int line();

        /** The row's id, or null when it has none usable. */
        String id();
    }

    /**
     * A valid row.
     *
     * @param fields the row's fields with typed values and the seed filled in: {@link #entry} rebuilds the row from them
     */
    public record Row(int index, int line, String id, GenerationRequest request, RowImages images, Map<String, Object> fields) implements Entry {
        public String fileName() {
            return id + ".png";
        }

        /**
         * {@link #request()} with the files the row names, as {@code generate} takes them from its options: the
         * input images, read now (a size not given comes from them), and the LoRAs of the prompt's
         * {@code <lora:NAME:WEIGHT>} tags (taken out of the prompt) and of the {@code loras} field, which must exist.
         */
        public GenerationRequest request(Inputs in) throws IOException {
            GenerationRequest r = images == null ? request : RowFields.parse(fields, images.conditions(in)).request();
            return RowFields.loras(r, fields, in);
        }
    }

    public record Invalid(int index, int line, String id, String error) implements Entry {}

    /** The file as a whole cannot be read as a manifest. */
    public static final class ManifestException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        ManifestException(String message) { super(message); }
    }

    public enum Format { JSONL, CSV }

    private final String source;
    private final List<Entry> entries;

    private Manifest(String source, List<Entry> entries) {
        this.source = source;
        this.entries = List.copyOf(entries);
    }

    public static Manifest read(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new ManifestException(file + ": not UTF-8 text");
        }
        return parse(file.toString(), text);
    }

    /** Parses {@code text}; {@code source} names it in messages and, by its extension, gives the format. */
    public static Manifest parse(String source, String text) {
        if (text.startsWith("\uFEFF")) text = text.substring(1); // a byte order mark, as spreadsheet programs write
        List<Entry> entries = switch (format(source, text)) {
            case JSONL -> jsonLines(text);
            case CSV -> csv(source, text);
        };
        return new Manifest(source, refuseDuplicates(entries));
    }

    /** By extension ({@code .csv}; {@code .jsonl}, {@code .ndjson}, {@code .json}), else JSON Lines when the text starts with '{'. */
    static Format format(String source, String text) {
        String name = source.toLowerCase(Locale.ROOT);
        if (name.endsWith(".csv")) return Format.CSV;
        if (name.endsWith(".jsonl") || name.endsWith(".ndjson") || name.endsWith(".json")) return Format.JSONL;
        return text.stripLeading().startsWith("{") ? Format.JSONL : Format.CSV;
    }

    public String source() {
        return source;
    }

    public List<Entry> entries() {
        return entries;
    }

    /** The entries {@code shard} takes, in manifest order. */
    public List<Entry> entries(Shard shard) {
        return entries.stream().filter(e -> shard.takes(e.index())).toList();
    }

    /** A row from its fields ({@link Row#fields()}, or a JSON object's), checked as the manifest checks it. */
    public static Entry entry(int index, int line, Map<String, ?> fields) {
        Object rawId = fields.get("id");
        String id = rawId instanceof String s && RowFields.idProblem(s) == null ? s : null;
        try {
            RowFields.Parsed p = RowFields.parse(fields);
            return new Row(index, line, p.id(), p.request(), p.images(), p.fields());
        } catch (IllegalArgumentException e) {
            return new Invalid(index, line, id, e.getMessage());
        }
    }

    private static List<Entry> jsonLines(String text) {
        List<Entry> out = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String l = lines[i].endsWith("\r") ? lines[i].substring(0, lines[i].length() - 1) : lines[i];
            if (l.isBlank()) continue;
            int index = out.size(), line = i + 1;
            Object v;
            try {
                v = Json.parse(l);
            } catch (Json.JsonException e) {
                out.add(new Invalid(index, line, null, "not valid JSON: " + e.getMessage()));
                continue;
            }
            if (!(v instanceof Map<?, ?> m)) {
                out.add(new Invalid(index, line, null, "expected a JSON object, one per line"));
                continue;
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> fields = (Map<String, Object>) m;
            out.add(entry(index, line, fields));
        }
        return out;
    }

    private static List<Entry> csv(String source, String text) {
        List<Csv.Record> records;
        try {
            records = Csv.parse(text);
        } catch (Csv.CsvException e) {
            throw new ManifestException(source + " line " + e.line + ": " + e.getMessage());
        }
        if (records.isEmpty()) return List.of();
        List<String> header = records.getFirst().fields().stream().map(String::strip).toList();
        for (int i = 0; i < header.size(); i++) {
            String h = header.get(i);
            if (!RowFields.NAMES.contains(h)) throw new ManifestException(source + " line 1: unknown column '" + h + "' (known: " + String.join(", ", RowFields.NAMES) + ")");
            if (header.indexOf(h) != i) throw new ManifestException(source + " line 1: column '" + h + "' appears twice");
        }
        for (String required : List.of("id", "prompt")) {
            if (!header.contains(required)) throw new ManifestException(source + " line 1: no '" + required + "' column (the header row names the columns: id,prompt,seed,...)");
        }
        List<Entry> out = new ArrayList<>();
        for (Csv.Record r : records.subList(1, records.size())) {
            int index = out.size();
            if (r.fields().size() != header.size()) {
                out.add(new Invalid(index, r.line(), null, "has " + r.fields().size() + " fields, the header " + header.size()));
                continue;
            }
            Map<String, Object> fields = new LinkedHashMap<>();
            for (int i = 0; i < header.size(); i++) {
                if (!r.fields().get(i).isEmpty()) fields.put(header.get(i), r.fields().get(i)); // an empty cell: not given
            }
            out.add(entry(index, r.line(), RowFields.fromText(fields)));
        }
        return out;
    }

    /**
     * Two rows with one id would write one file: the later ones are refused. Ids are compared ignoring case, as
     * the file systems of macOS and Windows compare names.
     */
    private static List<Entry> refuseDuplicates(List<Entry> entries) {
        Map<String, Integer> firstLine = new HashMap<>();
        List<Entry> out = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            if (e instanceof Row r) {
                Integer first = firstLine.putIfAbsent(r.id().toLowerCase(Locale.ROOT), r.line());
                if (first != null) {
                    out.add(new Invalid(r.index(), r.line(), null, "duplicate id '" + r.id() + "' (line " + first + " has it; ids name the output files, compared ignoring case)"));
                    continue;
                }
            }
            out.add(e);
        }
        return out;
    }
}
