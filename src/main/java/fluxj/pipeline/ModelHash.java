package fluxj.pipeline;

import fluxj.io.Json;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The "Model hash" of the PNG parameters: the first 10 hex digits of the SHA-256 of the transformer weights (for a
 * single file exactly the AutoV2 hash AUTOMATIC1111 and Civitai show; for shards, of their concatenation in name
 * order). A file in the Hugging Face cache is named by its SHA-256 already; other hashes are remembered in
 * {@code ~/.cache/fluxj/hashes.json} by path, size and modification time, so big files are read once.
 */
public final class ModelHash {
    private ModelHash() {}

    /**
     * The hash of {@code files}, computed on first use and kept: a transformer outside the Hugging Face cache is read
     * whole (tens of GB) the first time, which only a written PNG or a {@code --from} check needs, not loading or planning.
     */
    public static Supplier<String> lazy(List<Path> files) {
        return new Supplier<>() {
            private String hash;

            @Override
            public synchronized String get() {
                if (hash == null) {
                    try {
                        hash = of(files);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
                return hash;
            }
        };
    }

    public static String of(List<Path> files) throws IOException {
        if (files.size() == 1) {
            Path real = files.getFirst().toRealPath();
            String blob = real.getFileName().toString();
            if (blob.matches("[0-9a-f]{64}")) return blob.substring(0, 10);
        }
        String key = key(files);
        Path cacheFile = Path.of(System.getProperty("user.home"), ".cache", "fluxj", "hashes.json");
        Map<String, Object> cache = read(cacheFile);
        if (cache.get(key) instanceof String h) return h;
        String h = compute(files);
        cache.put(key, h);
        try {
            Files.createDirectories(cacheFile.getParent());
            Path tmp = Files.createTempFile(cacheFile.getParent(), "hashes", ".tmp");
            Files.writeString(tmp, Json.write(cache));
            Files.move(tmp, cacheFile, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            System.getLogger(ModelHash.class.getName()).log(System.Logger.Level.DEBUG, "cannot store the model hash cache", e);
        }
        return h;
    }

    private static String key(List<Path> files) throws IOException {
        StringBuilder b = new StringBuilder();
        for (Path f : files) {
            Path real = f.toRealPath();
            b.append(real).append('|').append(Files.size(real)).append('|').append(Files.getLastModifiedTime(real).toMillis()).append(';');
        }
        return b.toString();
    }

    private static Map<String, Object> read(Path cacheFile) {
        try {
            return Files.isRegularFile(cacheFile) ? new LinkedHashMap<>(Json.readObject(cacheFile)) : new LinkedHashMap<>();
        } catch (IOException | RuntimeException e) {
            return new LinkedHashMap<>(); // a damaged cache is rebuilt
        }
    }

    static String compute(List<Path> files) throws IOException {
        return sha256(files).substring(0, 10);
    }

    /** The SHA-256 of the files' concatenation, in hex. */
    public static String sha256(List<Path> files) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        byte[] buf = new byte[1 << 20];
        for (Path f : files) {
            try (InputStream in = Files.newInputStream(f)) {
                for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
