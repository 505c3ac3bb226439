package fluxj.io;

import fluxj.gguf.GgufFile;
import fluxj.gguf.GgufNames;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Tensor;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The tensors of one model component: a single safetensors or GGUF file, a sharded set named by a
 * {@code *.safetensors.index.json}, or a folder holding either. Tensors stay mapped views (GGUF ones with torch
 * shapes and, for llama.cpp T5 encoders, Hugging Face names); closing unmaps every file. Views made with
 * {@link #withPrefix} share the files (closing any of them closes all).
 */
public final class Checkpoint implements AutoCloseable {
    /** One mapped file. */
    private record Mapped(Path path, long size, AutoCloseable mapping) {
        void close() {
            try {
                mapping.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private final String description;
    private final List<Mapped> files;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;
    /** Run before the files are unmapped; shared with the views. */
    private final List<Runnable> onClose;

    private Checkpoint(String description, List<Mapped> files, Map<String, Tensor> tensors, Map<String, String> metadata,
                       List<Runnable> onClose) {
        this.description = description;
        this.files = files;
        this.tensors = tensors;
        this.metadata = metadata;
        this.onClose = onClose;
    }

    /** Opens a .safetensors or .gguf file, a .safetensors.index.json, or a folder with one of them (or several shards). */
    public static Checkpoint open(Path path) throws IOException {
        if (!Files.exists(path)) throw new NoSuchFileException(path.toString(), null, "no such file or folder");
        if (Files.isDirectory(path)) {
            List<Path> indexes, shards;
            try (Stream<Path> s = Files.list(path)) {
                List<Path> all = s.sorted().toList();
                indexes = all.stream().filter(p -> p.getFileName().toString().endsWith(".safetensors.index.json")).toList();
                shards = all.stream().filter(p -> p.getFileName().toString().endsWith(".safetensors")).toList();
            }
            if (indexes.size() == 1) return openIndex(indexes.getFirst());
            if (indexes.size() > 1) throw new ModelFormatException(path.toString(), "several *.safetensors.index.json files; name one of " + indexes);
            if (shards.isEmpty()) throw new ModelFormatException(path.toString(), "folder holds no .safetensors file");
            return openFiles(path.toString(), shards);
        }
        if (path.getFileName().toString().endsWith(".json")) return openIndex(path);
        return openFiles(path.toString(), List.of(path));
    }

    private static Checkpoint openIndex(Path index) throws IOException {
        Map<String, Object> json;
        try {
            json = Json.readObject(index);
        } catch (Json.JsonException e) {
            throw new ModelFormatException(index.toString(), "not valid JSON: " + e.getMessage());
        } catch (CharacterCodingException e) {
            throw new ModelFormatException(index.toString(), "not valid UTF-8 text");
        }
        if (!(json.get("weight_map") instanceof Map<?, ?> wm)) throw new ModelFormatException(index.toString(), "no \"weight_map\" object");
        Map<String, Path> byName = new LinkedHashMap<>();
        for (var e : wm.entrySet()) {
            if (!(e.getValue() instanceof String f) || f.isEmpty() || f.contains("/") || f.contains("\\") || f.equals("..")) {
                throw new ModelFormatException(index.toString(), "weight_map entry for '" + e.getKey() + "' is not a file name in the same folder");
            }
            Path shard = index.resolveSibling(f);
            if (!Files.isRegularFile(shard)) {
                throw new ModelFormatException(index.toString(), "weight_map names " + f + " (for tensor '" + e.getKey() + "'), which does not exist");
            }
            byName.putIfAbsent(f, shard);
        }
        if (byName.isEmpty()) throw new ModelFormatException(index.toString(), "\"weight_map\" lists no tensors");
        Checkpoint c = openFiles(index.toString(), new ArrayList<>(byName.values()));
        for (var e : wm.entrySet()) {
            Tensor t = c.tensors.get((String) e.getKey());
            String named = byName.get((String) e.getValue()).toString();
            if (t == null || !t.source().equals(named)) {
                c.close();
                throw new ModelFormatException(index.toString(), "tensor '" + e.getKey() + "' is listed for " + e.getValue() + " but that file does not hold it"
                        + (t == null ? "" : " (it is in " + t.source() + ")"));
            }
        }
        return c;
    }

    private static Checkpoint openFiles(String description, List<Path> paths) throws IOException {
        List<Mapped> files = new ArrayList<>();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        try {
            for (Path p : paths) {
                Collection<Tensor> held;
                if (Files.isRegularFile(p) && (p.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".gguf") || GgufFile.isGguf(p))) {
                    GgufFile g = GgufFile.open(p);
                    files.add(new Mapped(p, g.fileSize(), g));
                    g.metadata().forEach((k, v) -> metadata.put(k, v.toString()));
                    held = GgufNames.torchNames(g).values();
                } else {
                    SafeTensors f = SafeTensors.open(p);
                    files.add(new Mapped(p, f.fileSize(), f));
                    metadata.putAll(f.metadata());
                    held = f.tensors().values();
                }
                for (Tensor t : held) {
                    Tensor prev = tensors.putIfAbsent(t.name(), t);
                    if (prev != null) throw new ModelFormatException(p.toString(), "tensor '" + t.name() + "' also appears in " + prev.source());
                }
            }
        } catch (IOException | RuntimeException e) {
            files.forEach(Mapped::close);
            throw e;
        }
        return new Checkpoint(description, List.copyOf(files), Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata),
                Collections.synchronizedList(new ArrayList<>()));
    }

    /** Wraps tensors made in memory (tests, converted weights); nothing to unmap. */
    public static Checkpoint of(String description, Map<String, Tensor> tensors) {
        return new Checkpoint(description, List.of(), Collections.unmodifiableMap(new LinkedHashMap<>(tensors)), Map.of(),
                Collections.synchronizedList(new ArrayList<>()));
    }

    /** The tensors whose names start with {@code prefix}, renamed without it. Shares the mapped files. */
    public Checkpoint withPrefix(String prefix) {
        Map<String, Tensor> sub = new LinkedHashMap<>();
        tensors.forEach((k, v) -> {
            if (k.startsWith(prefix)) sub.put(k.substring(prefix.length()), v);
        });
        return new Checkpoint(description, files, Collections.unmodifiableMap(sub), metadata, onClose);
    }

    /**
     * This checkpoint with some tensors replaced by others of the same name (e.g. LoRA-merged copies made in
     * memory). Shares the mapped files.
     */
    public Checkpoint withReplaced(Map<String, Tensor> replaced) {
        Map<String, Tensor> all = new LinkedHashMap<>(tensors);
        replaced.forEach((k, v) -> {
            if (!all.containsKey(k)) throw new IllegalArgumentException(description + " has no tensor '" + k + "' to replace");
            all.put(k, v);
        });
        return new Checkpoint(description, files, Collections.unmodifiableMap(all), metadata, onClose);
    }

    /** The first of {@code prefixes} that some tensor name starts with, else "". */
    public String detectPrefix(String... prefixes) {
        for (String p : prefixes) {
            for (String k : tensors.keySet()) if (k.startsWith(p)) return p;
        }
        return "";
    }

    public String description() { return description; }

    public List<Path> paths() { return files.stream().map(Mapped::path).toList(); }

    public long fileBytes() { return files.stream().mapToLong(Mapped::size).sum(); }

    public Map<String, Tensor> tensors() { return tensors; }

    public Set<String> names() { return new TreeSet<>(tensors.keySet()); }

    public Map<String, String> metadata() { return metadata; }

    public boolean has(String name) { return tensors.containsKey(name); }

    public Optional<Tensor> find(String name) { return Optional.ofNullable(tensors.get(name)); }

    /** The named tensor, or an error naming the checkpoint and the missing tensor. */
    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new ModelFormatException(description, "missing tensor '" + name + "'");
        return t;
    }

    /** The count of distinct N in names {@code prefix + N + "."}. */
    public int countIndexed(String prefix) {
        Set<Integer> seen = new TreeSet<>();
        for (String k : tensors.keySet()) {
            if (!k.startsWith(prefix)) continue;
            int dot = k.indexOf('.', prefix.length());
            if (dot < 0) continue;
            try {
                seen.add(Integer.parseInt(k.substring(prefix.length(), dot)));
            } catch (NumberFormatException ignored) {
                // not an indexed child
            }
        }
        int n = seen.size();
        for (int i = 0; i < n; i++) {
            if (!seen.contains(i)) throw new ModelFormatException(description, "blocks '" + prefix + "N' are not numbered 0.." + (n - 1) + ": found " + seen);
        }
        return n;
    }

    /**
     * Runs {@code action} when this checkpoint (or any view of it) closes, before its files are unmapped: models free
     * the copies they made of its weights then, so released weights and their copies go together.
     */
    public void onClose(Runnable action) { onClose.add(action); }

    @Override
    public void close() {
        List<Runnable> actions;
        synchronized (onClose) {
            actions = List.copyOf(onClose);
            onClose.clear();
        }
        actions.reversed().forEach(Runnable::run);
        files.forEach(Mapped::close);
    }
}
