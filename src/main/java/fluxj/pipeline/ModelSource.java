package fluxj.pipeline;

import fluxj.io.Checkpoint;
import fluxj.io.Json;
import fluxj.io.ModelKind;
import fluxj.tensor.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Names a FLUX.1 model as a user gives it: a diffusers folder (model_index.json, transformer/, vae/, text_encoder/,
 * text_encoder_2/, tokenizer/, tokenizer_2/, scheduler/), a single transformer file (ComfyUI / BFL style safetensors,
 * or a GGUF file of city96's or stable-diffusion.cpp's layout) with the
 * other parts named or found beside it, or a Hugging Face repo id, resolved in the Hugging Face cache and
 * downloaded into it when missing. Explicit part locations override what the model brings.
 *
 * @param model     folder, file or repo id; null = {@value #DEFAULT_REPO}
 * @param config    a sidecar JSON with {@code flux_params}, {@code ae_params}, {@code clip_config}, {@code t5_config}
 */
public record ModelSource(String model, Path vae, Path clipL, Path t5, Path clipTokenizer, Path t5Tokenizer, Path config,
                          HubClient.Config hub) {
    public static final String DEFAULT_REPO = "black-forest-labs/FLUX.1-schnell";
    /** Where tokenizers come from when a single-file model has none beside it (they are the same for all FLUX.1). */
    public static final String TOKENIZER_REPO = DEFAULT_REPO;
    private static final List<String> WEIGHT_DIRS = List.of("transformer", "vae", "text_encoder", "text_encoder_2");

    public static ModelSource of(String model) {
        return new ModelSource(model, null, null, null, null, null, null, HubClient.Config.fromEnvironment());
    }

    public ModelSource withParts(Path vae, Path clipL, Path t5, Path clipTokenizer, Path t5Tokenizer, Path config) {
        return new ModelSource(model, vae, clipL, t5, clipTokenizer, t5Tokenizer, config, hub);
    }

    public ModelSource withHub(HubClient.Config h) {
        return new ModelSource(model, vae, clipL, t5, clipTokenizer, t5Tokenizer, config, h);
    }

    /** Whether {@code s} has the form of a repo id (ORG/NAME) rather than a path. */
    public static boolean looksLikeRepoId(String s) {
        return s.matches("[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*") && !s.endsWith(".safetensors") && !s.endsWith(".gguf");
    }

    /** Finds every part, downloading a repo's files when the cache lacks them. */
    public ModelFiles resolve(HubClient.Listener listener) throws IOException {
        Sidecar side = Sidecar.read(config);
        String m = model == null ? DEFAULT_REPO : model;
        Path p = Path.of(m);
        if (Files.isDirectory(p)) return diffusers(p, p.toAbsolutePath().normalize().getFileName().toString(), side);
        if (Files.isRegularFile(p)) return singleFile(p, side, listener);
        if (looksLikeRepoId(m)) {
            HubClient client = new HubClient(hub);
            Path snap = client.snapshot(m, ModelSource::neededFromRepo, ModelSource::completeDiffusers, listener);
            return diffusers(snap, m, side);
        }
        throw new NoSuchFileException(m, null, "no such file or folder, and not a Hugging Face repo id (ORG/NAME)");
    }

    /** The files of a diffusers repo the pipeline reads. */
    static boolean neededFromRepo(String f) {
        if (f.equals("model_index.json") || f.equals("scheduler/scheduler_config.json")) return true;
        String[] parts = f.split("/");
        if (parts.length != 2) return false;
        if (parts[0].equals("tokenizer") || parts[0].equals("tokenizer_2")) return true;
        return WEIGHT_DIRS.contains(parts[0]) && (parts[1].endsWith(".json") || parts[1].endsWith(".safetensors"));
    }

    /** A cached snapshot is usable when every weight folder has its config and all its shards. */
    static boolean completeDiffusers(Path snap) {
        if (!Files.isRegularFile(snap.resolve("model_index.json"))) return false;
        for (String d : WEIGHT_DIRS) {
            Path dir = snap.resolve(d);
            if (!Files.isRegularFile(dir.resolve("config.json"))) return false;
            try (Stream<Path> s = Files.list(dir)) {
                List<Path> files = s.toList();
                Path index = files.stream().filter(f -> f.getFileName().toString().endsWith(".safetensors.index.json")).findFirst().orElse(null);
                if (index == null) {
                    if (files.stream().noneMatch(f -> f.getFileName().toString().endsWith(".safetensors"))) return false;
                } else if (Json.readObject(index).get("weight_map") instanceof Map<?, ?> wm) {
                    for (Object shard : wm.values()) if (!Files.isRegularFile(dir.resolve(String.valueOf(shard)))) return false;
                } else {
                    return false;
                }
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }
        return Files.isDirectory(snap.resolve("tokenizer")) && Files.isDirectory(snap.resolve("tokenizer_2"));
    }

    private ModelFiles diffusers(Path dir, String name, Sidecar side) throws IOException {
        if (!Files.isRegularFile(dir.resolve("model_index.json")) && !Files.isDirectory(dir.resolve("transformer"))) {
            throw new ModelFormatException(dir.toString(), "not a diffusers model folder (no model_index.json or transformer/); for a single-file model pass the transformer .safetensors file");
        }
        Path transformer = part(dir.resolve("transformer"), null, "--model");
        Path vaePath = part(dir.resolve("vae"), vae, "--vae");
        Path clipPath = part(dir.resolve("text_encoder"), clipL, "--clip-l");
        Path t5Path = part(dir.resolve("text_encoder_2"), t5, "--t5");
        Path clipTok = part(dir.resolve("tokenizer"), clipTokenizer, "--clip-tokenizer");
        Path t5Tok = part(dir.resolve("tokenizer_2"), t5Tokenizer, "--t5-tokenizer");
        Path scheduler = dir.resolve("scheduler").resolve("scheduler_config.json");
        return new ModelFiles(name,
                transformer, side.or(side.flux(), folderConfig(transformer)),
                vaePath, side.or(side.ae(), vae == null ? folderConfig(vaePath) : null),
                clipPath, side.or(side.clip(), clipL == null ? folderConfig(clipPath) : null),
                t5Path, side.or(side.t5(), t5 == null ? folderConfig(t5Path) : null),
                clipTok, t5Tok, Files.isRegularFile(scheduler) ? scheduler : null, weightFiles(transformer));
    }

    private static Path part(Path inFolder, Path override, String option) throws NoSuchFileException {
        Path p = override != null ? override : inFolder;
        if (!Files.exists(p)) {
            throw new NoSuchFileException(p.toString(), null, override != null ? "no such file or folder (" + option + ")" : "missing from the model folder; name it with " + option);
        }
        return p;
    }

    private static Map<String, Object> folderConfig(Path componentDir) throws IOException {
        Path c = componentDir.resolve("config.json");
        if (!Files.isDirectory(componentDir) || !Files.isRegularFile(c)) return null;
        try {
            return Json.readObject(c);
        } catch (Json.JsonException e) {
            throw new ModelFormatException(c.toString(), "not valid JSON: " + e.getMessage());
        }
    }

    private static List<Path> weightFiles(Path p) throws IOException {
        if (!Files.isDirectory(p)) return List.of(p);
        try (Stream<Path> s = Files.list(p)) {
            return s.filter(f -> f.getFileName().toString().endsWith(".safetensors")).sorted().toList();
        }
    }

    private ModelFiles singleFile(Path file, Sidecar side, HubClient.Listener listener) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Path vaePath = vae != null ? existing(vae, "--vae") : beside(dir, file, "--vae", n -> n.equals("ae.safetensors"), n -> n.contains("vae") || n.startsWith("ae"), k -> k instanceof ModelKind.Vae);
        Path clipPath = clipL != null ? existing(clipL, "--clip-l") : beside(dir, file, "--clip-l", n -> n.equals("clip_l.safetensors"), n -> n.contains("clip_l") || n.contains("clip-l"), k -> k instanceof ModelKind.ClipText);
        Path t5Path = t5 != null ? existing(t5, "--t5") : beside(dir, file, "--t5", n -> n.startsWith("t5xxl") && n.contains("fp16"), n -> n.contains("t5"), k -> k instanceof ModelKind.T5 || k instanceof ModelKind.DistillT5);
        Path clipTok = clipTokenizer != null ? existing(clipTokenizer, "--clip-tokenizer") : besideFolder(dir, "tokenizer", "clip_tokenizer");
        Path t5Tok = t5Tokenizer != null ? existing(t5Tokenizer, "--t5-tokenizer") : besideFolder(dir, "tokenizer_2", "t5_tokenizer");
        if (clipTok == null || t5Tok == null) {
            listener.message("no tokenizer folders beside " + file.getFileName() + ": using those of " + TOKENIZER_REPO);
            HubClient client = new HubClient(hub);
            Path snap = client.snapshot(TOKENIZER_REPO, f -> f.startsWith("tokenizer/") || f.startsWith("tokenizer_2/"),
                    s -> Files.isDirectory(s.resolve("tokenizer")) && Files.isDirectory(s.resolve("tokenizer_2")), listener);
            if (clipTok == null) clipTok = snap.resolve("tokenizer");
            if (t5Tok == null) t5Tok = snap.resolve("tokenizer_2");
        }
        String name = file.getFileName().toString().replaceFirst("(?i)\\.(safetensors|gguf)$", "");
        return new ModelFiles(name, file, side.flux(), vaePath, side.ae(), clipPath, side.clip(), t5Path, side.t5(),
                clipTok, t5Tok, null, List.of(file));
    }

    private static Path existing(Path p, String option) throws NoSuchFileException {
        if (!Files.exists(p)) throw new NoSuchFileException(p.toString(), null, "no such file or folder (" + option + ")");
        return p;
    }

    /**
     * The one .safetensors beside the transformer that {@code exact} or else {@code loose} picks by (lowercased)
     * name, or else the one whose tensors {@code kind} recognises.
     */
    private static Path beside(Path dir, Path transformer, String option, Predicate<String> exact, Predicate<String> loose,
                               Predicate<ModelKind> kind) throws IOException {
        List<Path> all;
        try (Stream<Path> s = Files.list(dir)) {
            all = s.filter(f -> isWeightFile(f) && !f.equals(transformer.toAbsolutePath())).sorted().toList();
        }
        for (Predicate<String> rule : List.of(exact, loose)) {
            List<Path> hits = new ArrayList<>();
            for (Path f : all) if (rule.test(f.getFileName().toString().toLowerCase(Locale.ROOT))) hits.add(f);
            if (hits.size() == 1) return hits.getFirst();
            if (hits.size() > 1) throw new IllegalArgumentException("several candidates for " + option + " beside " + transformer.getFileName() + ": " + names(hits) + "; choose one with " + option + " FILE");
        }
        List<Path> hits = new ArrayList<>();
        for (Path f : all) {
            try (Checkpoint ck = Checkpoint.open(f)) {
                if (kind.test(ModelKind.of(ck))) hits.add(f);
            } catch (IOException | RuntimeException e) {
                // not a readable checkpoint: not a candidate
            }
        }
        if (hits.size() == 1) return hits.getFirst();
        if (hits.size() > 1) throw new IllegalArgumentException("several candidates for " + option + " beside " + transformer.getFileName() + ": " + names(hits) + "; choose one with " + option + " FILE");
        throw new IllegalArgumentException("no file for " + option + " beside " + transformer.getFileName() + " in " + dir + "; name it with " + option + " FILE");
    }

    private static boolean isWeightFile(Path f) {
        String n = f.getFileName().toString().toLowerCase(Locale.ROOT);
        return n.endsWith(".safetensors") || n.endsWith(".gguf");
    }

    private static String names(List<Path> ps) {
        return String.join(", ", ps.stream().map(p -> p.getFileName().toString()).toList());
    }

    private static Path besideFolder(Path dir, String... names) {
        for (Path base : new Path[]{dir, dir.getParent()}) {
            if (base == null) continue;
            for (String n : names) if (Files.isDirectory(base.resolve(n))) return base.resolve(n);
        }
        return null;
    }

    /** The component sections of a --config file (each may be absent). */
    record Sidecar(Map<String, Object> flux, Map<String, Object> ae, Map<String, Object> clip, Map<String, Object> t5) {
        static final Sidecar NONE = new Sidecar(null, null, null, null);

        static Sidecar read(Path file) throws IOException {
            if (file == null) return NONE;
            if (!Files.isRegularFile(file)) throw new NoSuchFileException(file.toString(), null, "no such file (--config)");
            Map<String, Object> m;
            try {
                m = Json.readObject(file);
            } catch (Json.JsonException e) {
                throw new ModelFormatException(file.toString(), "not valid JSON: " + e.getMessage());
            }
            Sidecar s = new Sidecar(section(file, m, "flux_params"), section(file, m, "ae_params"), section(file, m, "clip_config"), section(file, m, "t5_config"));
            if (s.equals(NONE)) throw new ModelFormatException(file.toString(), "a --config file needs at least one of flux_params, ae_params, clip_config, t5_config");
            return s;
        }

        @SuppressWarnings("unchecked")
        private static Map<String, Object> section(Path file, Map<String, Object> m, String key) {
            Object v = m.get(key);
            if (v == null) return null;
            if (!(v instanceof Map)) throw new ModelFormatException(file.toString(), "\"" + key + "\" must be a JSON object");
            return (Map<String, Object>) v;
        }

        Map<String, Object> or(Map<String, Object> fromSidecar, Map<String, Object> fallback) {
            return fromSidecar != null ? fromSidecar : fallback;
        }
    }
}
