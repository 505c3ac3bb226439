package fluxj.text;

import fluxj.io.Checkpoint;
import fluxj.io.Json;
import fluxj.testing.Fixtures;
import fluxj.testing.Npy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The public cases and the two on-disk layouts of their text encoders (diffusers folder, single files). */
final class TextFixtures {
    private TextFixtures() {}

    enum Layout { DIFFUSERS, SINGLE_FILE }

    /** One way to open a text encoder: the checkpoint path and the config.json map that goes with it (or null). */
    record Source(Path weights, Map<String, Object> config) {
        Checkpoint open() throws IOException { return Checkpoint.open(weights); }
    }

    /** Every case of cases.json, as parsed. */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> cases() throws IOException {
        return ((List<Object>) Json.readObject(Fixtures.path("cases.json")).get("cases")).stream().map(c -> (Map<String, Object>) c).toList();
    }

    static List<String> publicCases() throws IOException {
        return cases().stream().filter(c -> Boolean.TRUE.equals(c.get("public"))).map(c -> (String) c.get("id")).toList();
    }

    static Source clip(Layout layout) throws IOException {
        return layout == Layout.DIFFUSERS ? folder("flux1-tiny-schnell/text_encoder")
                : new Source(Fixtures.model("flux1-tiny-schnell-single/clip_l.safetensors"), null);
    }

    static Source t5(Layout layout) throws IOException {
        return layout == Layout.DIFFUSERS ? folder("flux1-tiny-schnell/text_encoder_2")
                : new Source(Fixtures.model("flux1-tiny-schnell-single/t5xxl_fp16.safetensors"), null);
    }

    private static Source folder(String dir) throws IOException {
        Path p = Fixtures.model(dir);
        return new Source(p, Json.readObject(p.resolve("config.json")));
    }

    static Npy intermediate(String caseId, String name) {
        return Npy.read(Fixtures.caseDir(caseId).resolve(name + ".npy"));
    }
}
