package fluxj.cli;

import fluxj.io.Checkpoint;
import fluxj.io.Json;
import fluxj.io.ModelKind;
import fluxj.io.TensorSpec;
import fluxj.tensor.DType;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/** {@code fluxj inspect PATH}: what a weights file, sharded index, component folder or diffusers model folder holds. */
@Command(name = "inspect", description = {
        "Describe model weights: the recognised kind, FP8 or not, parameter count, bytes per dtype, __metadata__ and every tensor.",
        "PATH is a .safetensors or .gguf file, a *.safetensors.index.json, a component folder, or a diffusers model folder (model_index.json)."})
public final class InspectCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PATH", description = "What to inspect.")
    Path path;

    @Option(names = "--summary", description = "Print the summary only, not the tensor list.")
    boolean summary;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        Path index = path.resolve("model_index.json");
        if (Files.isDirectory(path) && Files.isRegularFile(index)) inspectDiffusers(out, index);
        else inspect(out, path);
        out.flush();
        return 0;
    }

    private void inspectDiffusers(PrintWriter out, Path modelIndex) throws IOException {
        Map<String, Object> json;
        try {
            json = Json.readObject(modelIndex);
        } catch (Json.JsonException e) {
            throw new ModelFormatException(modelIndex.toString(), "not valid JSON: " + e.getMessage());
        }
        out.println("diffusers model " + path + " (" + json.getOrDefault("_class_name", "no _class_name") + ")");
        for (var e : json.entrySet()) {
            if (e.getKey().startsWith("_") || !(e.getValue() instanceof List<?> lib)) continue;
            Path sub = path.resolve(e.getKey());
            out.println();
            if (!Files.isDirectory(sub)) {
                out.println("== " + e.getKey() + ": listed as " + lib + " but the folder is missing");
            } else if (!holdsWeights(sub)) {
                out.println("== " + e.getKey() + ": no weights " + lib);
            } else {
                out.println("== " + e.getKey() + " " + lib);
                inspect(out, sub);
            }
        }
    }

    private static boolean holdsWeights(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(p -> p.getFileName().toString().endsWith(".safetensors"));
        }
    }

    private void inspect(PrintWriter out, Path p) throws IOException {
        try (Checkpoint ck = Checkpoint.open(p)) {
            List<TensorSpec> specs = ck.tensors().values().stream().map(TensorSpec::of).toList();
            ModelKind kind = ModelKind.of(specs);
            long params = 0;
            Map<DType, Long> bytes = new EnumMap<>(DType.class);
            for (TensorSpec s : specs) {
                params += s.numel();
                bytes.merge(s.dtype(), s.byteSize(), Long::sum);
            }
            int files = ck.paths().size();
            out.println("path:       " + p + " (" + files + (files == 1 ? " file, " : " files, ") + size(ck.fileBytes()) + ")");
            out.println("kind:       " + kind.describe());
            String shard = shardOf(p);
            if (shard != null) out.println("shard:      " + shard);
            out.println("fp8:        " + kind.fp8());
            out.println("metadata:   " + (ck.metadata().isEmpty() ? "(none)" : Json.write(ck.metadata())));
            out.println("parameters: " + String.format("%,d", params) + " in " + specs.size() + " tensors");
            StringBuilder b = new StringBuilder();
            bytes.forEach((d, n) -> b.append(b.isEmpty() ? "" : ", ").append(d).append(' ').append(size(n)));
            out.println("bytes:      " + (b.isEmpty() ? "(none)" : b));
            if (summary) return;
            int width = specs.stream().mapToInt(s -> s.name().length()).max().orElse(0);
            for (Tensor t : ck.tensors().values()) {
                out.println(String.format("  %-" + width + "s  %-7s %s", t.name(), t.dtype(), Arrays.toString(t.shape())));
            }
        }
    }

    /** For a file listed by a sibling *.safetensors.index.json: which index, so a partial kind is not a surprise. */
    private static String shardOf(Path file) throws IOException {
        if (!Files.isRegularFile(file) || !file.getFileName().toString().endsWith(".safetensors")) return null;
        Path dir = file.toAbsolutePath().getParent();
        List<Path> indexes;
        try (Stream<Path> s = Files.list(dir)) {
            indexes = s.filter(x -> x.getFileName().toString().endsWith(".safetensors.index.json")).sorted().toList();
        }
        for (Path index : indexes) {
            try {
                if (Json.readObject(index).get("weight_map") instanceof Map<?, ?> wm && wm.containsValue(file.getFileName().toString())) {
                    return "one shard of " + index + " (inspect the index or the folder for the whole component)";
                }
            } catch (Json.JsonException | IOException e) {
                return null;
            }
        }
        return null;
    }

    private static String size(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
        return String.format("%,d bytes", bytes) + (u == 0 ? "" : String.format(" (%.1f %s)", v, units[u]));
    }
}
