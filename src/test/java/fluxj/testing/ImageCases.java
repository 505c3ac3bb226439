package fluxj.testing;

import fluxj.condition.ImageCondition;
import fluxj.condition.SourceImage;
import fluxj.io.Json;
import fluxj.pipeline.GenerationRequest;
import fluxj.pipeline.HubClient;
import fluxj.pipeline.ModelSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The image-conditioning fixture cases ({@code cases-image.json}): their model, request and command line. */
public final class ImageCases {
    // No network in tests: an endpoint that refuses connections, so nothing is fetched by accident.
    public static final HubClient.Config NO_HUB = new HubClient.Config(URI.create("http://127.0.0.1:9"), Path.of("/nonexistent-hf-cache"), null, true, Duration.ofSeconds(1));

    private ImageCases() {}

    @SuppressWarnings("unchecked")
    public static List<Map<String, Object>> all() {
        try {
            return (List<Map<String, Object>>) Json.readObject(Fixtures.root().resolve("cases-image.json")).get("cases");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Map<String, Object> byId(String id) {
        return all().stream().filter(c -> id.equals(c.get("id"))).findFirst().orElseThrow();
    }

    public static Path dir(Map<String, Object> c) {
        return Fixtures.root().resolve((String) expected(c).get("dir"));
    }

    @SuppressWarnings("unchecked")
    public static Map<String, Object> expected(Map<String, Object> c) {
        return (Map<String, Object>) c.get("expected");
    }

    public static Path file(Object relative) {
        return Fixtures.root().resolve((String) relative);
    }

    @SuppressWarnings("unchecked")
    public static ModelSource source(Map<String, Object> c) {
        Map<String, Object> m = (Map<String, Object>) c.get("model");
        if ("diffusers".equals(m.get("layout"))) return ModelSource.of(file(m.get("path")).toString()).withHub(NO_HUB);
        return ModelSource.of(file(m.get("transformer")).toString())
                .withParts(file(m.get("ae")), file(m.get("clip_l")), file(m.get("t5xxl")), file(m.get("clip_tokenizer")), file(m.get("t5_tokenizer")), null)
                .withHub(NO_HUB);
    }

    /** The case's image conditions, as a library user would build them for its mode. */
    @SuppressWarnings("unchecked")
    public static List<ImageCondition> conditions(Map<String, Object> c) throws IOException {
        List<ImageCondition> out = new ArrayList<>();
        double strength = c.get("strength") == null ? 1.0 : ((Number) c.get("strength")).doubleValue();
        switch ((String) c.get("mode")) {
            case "img2img" -> out.add(new ImageCondition.InitImage(SourceImage.read(file(c.get("init_image"))), strength));
            case "inpaint" -> out.add(new ImageCondition.Inpaint(SourceImage.read(file(c.get("init_image"))), SourceImage.read(file(c.get("mask"))), strength));
            case "fill" -> out.add(new ImageCondition.Fill(SourceImage.read(file(c.get("init_image"))), SourceImage.read(file(c.get("mask")))));
            case "control" -> out.add(new ImageCondition.Control(SourceImage.read(file(c.get("control_image")))));
            case "kontext" -> {
                for (Object r : (List<Object>) c.get("ref_images")) out.add(new ImageCondition.Reference(SourceImage.read(file(r))));
            }
            default -> throw new IllegalArgumentException("unknown mode " + c.get("mode"));
        }
        return out;
    }

    public static GenerationRequest request(Map<String, Object> c) throws IOException {
        return GenerationRequest.builder((String) c.get("prompt")).size(num(c, "width"), num(c, "height")).steps(num(c, "steps"))
                .seed(((Number) c.get("seed")).longValue()).guidance(((Number) c.get("guidance")).doubleValue()).conditions(conditions(c)).build();
    }

    /** The generate arguments the outside checks pass for a case. */
    @SuppressWarnings("unchecked")
    public static List<String> cliArgs(Map<String, Object> c, Path output) {
        Map<String, Object> m = (Map<String, Object>) c.get("model");
        List<String> a = new ArrayList<>(List.of("generate", "--prompt", (String) c.get("prompt")));
        if ("diffusers".equals(m.get("layout"))) {
            a.addAll(List.of("--model", file(m.get("path")).toString()));
        } else {
            a.addAll(List.of("--model", file(m.get("transformer")).toString(), "--vae", file(m.get("ae")).toString(),
                    "--clip-l", file(m.get("clip_l")).toString(), "--t5", file(m.get("t5xxl")).toString(),
                    "--clip-tokenizer", file(m.get("clip_tokenizer")).toString(), "--t5-tokenizer", file(m.get("t5_tokenizer")).toString()));
        }
        a.addAll(List.of("--width", str(c, "width"), "--height", str(c, "height"), "--steps", str(c, "steps"), "--seed", str(c, "seed"),
                "--guidance", str(c, "guidance"), "--output", output.toString(), "--quiet"));
        if (c.get("init_image") != null) a.addAll(List.of("--init-image", file(c.get("init_image")).toString()));
        if (c.get("strength") != null) a.addAll(List.of("--strength", str(c, "strength")));
        if (c.get("mask") != null) a.addAll(List.of("--mask", file(c.get("mask")).toString()));
        if (c.get("ref_images") instanceof List<?> refs) refs.forEach(r -> a.addAll(List.of("--ref-image", file(r).toString())));
        if (c.get("control_image") != null) a.addAll(List.of("--control-image", file(c.get("control_image")).toString()));
        return a;
    }

    private static int num(Map<String, Object> c, String k) {
        return ((Number) c.get(k)).intValue();
    }

    private static String str(Map<String, Object> c, String k) {
        return String.valueOf(c.get(k));
    }
}
