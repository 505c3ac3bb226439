package fluxj.text;

import fluxj.io.Json;
import fluxj.testing.Fixtures;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The reference token ids of the fixtures' tokcheck.json, one entry per string. */
record TokCheck(String text, Map<String, Object> fields) {
    static List<TokCheck> all() {
        try {
            Map<String, Object> root = Json.readObject(Fixtures.path("tokcheck.json"));
            List<?> items = (List<?>) root.get("items");
            return items.stream().map(o -> {
                @SuppressWarnings("unchecked") Map<String, Object> m = (Map<String, Object>) o;
                return new TokCheck((String) m.get("text"), m);
            }).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The id list of a field, or null when this entry has none. */
    int[] ids(String field) {
        Object v = fields.get(field);
        if (v == null) return null;
        return ((List<?>) v).stream().mapToInt(o -> ((Long) o).intValue()).toArray();
    }

    static Path clipDir() { return Fixtures.model("flux1-tiny-schnell/tokenizer"); }

    static Path t5Dir() { return Fixtures.model("flux1-tiny-schnell/tokenizer_2"); }

    @Override
    public String toString() { return Json.write(text); }
}
