package fluxj.lora;

import fluxj.tensor.ModelFormatException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * AUTOMATIC1111's LoRA hash (the "addnet" hash of its {@code Lora hashes:} field, which Civitai looks up): the
 * SHA-256 of a safetensors file's tensor data, after its header, first 12 hex digits. Remembered per file
 * (path, size and modification time) for the process.
 */
public final class LoraHash {
    private static final Map<String, String> KNOWN = new ConcurrentHashMap<>();

    private LoraHash() {}

    public static String of(Path file) throws IOException {
        String key = file.toAbsolutePath() + "|" + Files.size(file) + "|" + Files.getLastModifiedTime(file).toMillis();
        String known = KNOWN.get(key);
        if (known != null) return known;
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        try (InputStream in = Files.newInputStream(file)) {
            byte[] len = in.readNBytes(8);
            if (len.length < 8) throw new ModelFormatException(file.toString(), "not a safetensors file (shorter than 8 bytes)");
            long n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (n < 0 || in.skip(n) != n) throw new ModelFormatException(file.toString(), "header length " + n + " runs past the end of the file");
            byte[] buf = new byte[1 << 20];
            for (int r; (r = in.read(buf)) > 0; ) sha.update(buf, 0, r);
        }
        String hash = HexFormat.of().formatHex(sha.digest()).substring(0, 12);
        KNOWN.put(key, hash);
        return hash;
    }
}
