package fluxj.memory;

import fluxj.io.Checkpoint;
import fluxj.io.SafeTensorsWriter;
import fluxj.io.TensorSpec;
import fluxj.tensor.DType;
import fluxj.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code --weight-dtype fp8}: converts a transformer's BF16/F16/F32 weight matrices once to float8_e4m3fn with
 * a per-tensor scale, written as a ComfyUI "scaled fp8" file ({@code scaled_fp8} marker, {@code <layer>.scale_weight})
 * in a cache folder. The result is memory-mapped like any checkpoint, so it can be streamed under a budget and is
 * reused by later runs; vectors (biases, norm scales) keep their stored dtype.
 */
public final class Fp8Cache {
    private static final System.Logger LOG = System.getLogger(Fp8Cache.class.getName());

    private Fp8Cache() {}

    /** The cache folder: {@code -Dfluxj.cache} or {@code $FLUXJ_CACHE}, then {@code /fp8}; else {@code ~/.cache/fluxj/fp8}. */
    public static Path defaultDir() { return cacheRoot().resolve("fp8"); }

    /** fluxj's cache: {@code -Dfluxj.cache} or {@code $FLUXJ_CACHE}, else {@code ~/.cache/fluxj}. */
    public static Path cacheRoot() {
        String env = System.getProperty("fluxj.cache", System.getenv("FLUXJ_CACHE"));
        return env != null && !env.isBlank() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "fluxj");
    }

    /** Whether {@code t} is a matrix that conversion shrinks. */
    static boolean converts(String name, Tensor t) {
        return t.rank() == 2 && name.endsWith(".weight") && (t.dtype() == DType.BF16 || t.dtype() == DType.F16 || t.dtype() == DType.F32);
    }

    /** The converted file for {@code ck} (made now unless a previous run left it in {@code dir}). */
    public static Path convert(Checkpoint ck, Path dir) throws IOException {
        Path out = dir.resolve(cacheName(ck));
        if (Files.isRegularFile(out)) {
            LOG.log(System.Logger.Level.INFO, "FP8 weights from the cache: " + out);
            return out;
        }
        Files.createDirectories(dir);
        Map<String, Tensor> byName = ck.tensors();
        List<TensorSpec> specs = new ArrayList<>();
        Map<String, String> weightOfScale = new LinkedHashMap<>();
        for (var e : ck.tensors().entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            if (converts(name, t)) {
                specs.add(new TensorSpec(name, DType.F8_E4M3, t.shape()));
                String scaleName = name.substring(0, name.length() - ".weight".length()) + ".scale_weight";
                specs.add(new TensorSpec(scaleName, DType.F32, new long[0]));
                weightOfScale.put(scaleName, name);
            } else {
                specs.add(TensorSpec.of(t));
            }
        }
        specs.add(new TensorSpec("scaled_fp8", DType.F8_E4M3, new long[]{0}));
        Map<String, Float> scaleOfWeight = new ConcurrentHashMap<>();
        Path tmp = dir.resolve(out.getFileName() + ".part");
        long start = System.nanoTime();
        SafeTensorsWriter.write(tmp, Map.of("format", "pt", "fluxj", "fp8 e4m3fn per-tensor scaled copy of " + ck.description()), specs, (s, seg) -> {
            String weight = weightOfScale.get(s.name());
            if (weight != null) {
                seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED, 0, scaleOfWeight.computeIfAbsent(weight, w -> Fp8Quantizer.scaleFor(byName.get(w))));
                return;
            }
            Tensor t = byName.get(s.name());
            if (t == null) return;
            if (s.dtype() != t.dtype()) {
                Fp8Quantizer.quantize(t, scaleOfWeight.computeIfAbsent(s.name(), w -> Fp8Quantizer.scaleFor(t)), seg);
            } else {
                MemorySegment.copy(t.data(), 0, seg, 0, seg.byteSize());
            }
            // The source was read once: drop its pages from this process so conversion fits the budget too.
            if (t.data().isMapped()) t.data().unload();
        });
        Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        LOG.log(System.Logger.Level.INFO, String.format("converted %s to FP8 in %.1f s: %s", ck.description(), (System.nanoTime() - start) / 1e9, out));
        return out;
    }

    static String cacheName(Checkpoint ck) throws IOException { return cacheName(ck, "fp8", ".safetensors"); }

    /** {@code <stem>-<tag>-<hash><ext>}: a name that changes when any source file changes (paths, sizes, modification times). */
    static String cacheName(Checkpoint ck, String tag, String ext) throws IOException {
        StringBuilder key = new StringBuilder();
        for (Path p : ck.paths()) {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            key.append(p.toAbsolutePath()).append('|').append(a.size()).append('|').append(a.lastModifiedTime().toMillis()).append('\n');
        }
        try {
            byte[] h = java.security.MessageDigest.getInstance("SHA-256").digest(key.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            String stem = ck.paths().isEmpty() ? "weights" : ck.paths().getFirst().getFileName().toString().replaceAll("\\.(safetensors|gguf).*$", "");
            return stem + "-" + tag + "-" + HexFormat.of().formatHex(h, 0, 8) + ext;
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
