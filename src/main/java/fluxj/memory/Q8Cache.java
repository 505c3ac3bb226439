package fluxj.memory;

import fluxj.gguf.GgufConverter;
import fluxj.io.Checkpoint;
import fluxj.tensor.DType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code --weight-dtype q8_0}: converts a BF16/F16/F32 transformer once to a city96-layout GGUF file with Q8_0
 * matrices (ggml's reference quantizer, see {@link GgufConverter}) in a cache folder, reused by later runs and
 * mapped like any GGUF file: the kernels decode its blocks exactly.
 */
public final class Q8Cache {
    private static final System.Logger LOG = System.getLogger(Q8Cache.class.getName());

    private Q8Cache() {}

    /** The converted file for {@code ck} (made now unless a previous run left it in {@code dir}). */
    public static Path convert(Checkpoint ck, Path dir) throws IOException {
        Path out = dir.resolve(Fp8Cache.cacheName(ck, "q8_0", ".gguf"));
        if (Files.isRegularFile(out)) {
            LOG.log(System.Logger.Level.INFO, "Q8_0 weights from the cache: " + out);
            return out;
        }
        Files.createDirectories(dir);
        long start = System.nanoTime();
        GgufConverter.convert(ck, out, DType.Q8_0);
        LOG.log(System.Logger.Level.INFO, String.format("converted %s to Q8_0 in %.1f s: %s", ck.description(), (System.nanoTime() - start) / 1e9, out));
        return out;
    }
}
