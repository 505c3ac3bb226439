package fluxj.memory;

import fluxj.io.Checkpoint;
import fluxj.tensor.DType;
import fluxj.tensor.Tensor;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class Fp8CacheTest {
    @Test
    void convertsMatricesToScaledFp8AndKeepsVectors(@TempDir Path dir) throws IOException {
        try (Checkpoint src = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell.safetensors"))) {
            Path out = Fp8Cache.convert(src, dir);
            long modified = Files.getLastModifiedTime(out).toMillis();
            assertEquals(out, Fp8Cache.convert(src, dir), "a second run reuses the cached file");
            assertEquals(modified, Files.getLastModifiedTime(out).toMillis());
            try (Checkpoint fp8 = Checkpoint.open(out)) {
                assertTrue(fp8.has("scaled_fp8"));
                for (var e : src.tensors().entrySet()) {
                    Tensor a = e.getValue(), b = fp8.get(e.getKey());
                    if (a.rank() == 2) {
                        assertEquals(DType.F8_E4M3, b.dtype(), e.getKey());
                        String module = e.getKey().substring(0, e.getKey().length() - ".weight".length());
                        Tensor scaled = b.withScale(fp8.get(module + ".scale_weight").get(0));
                        float amax = 0;
                        for (long i = 0; i < a.numel(); i++) amax = Math.max(amax, Math.abs(a.get(i)));
                        for (long i = 0; i < a.numel(); i++) {
                            // e4m3: 3 mantissa bits (relative 2^-4) for normals, steps of scale * 2^-9 below 2^-6 * scale.
                            float v = a.get(i);
                            assertEquals(v, scaled.get(i), Math.max(Math.abs(v) / 16, amax / 448 / 512), e.getKey() + "[" + i + "]");
                        }
                    } else {
                        assertEquals(a.dtype(), b.dtype(), e.getKey());
                        assertEquals(a.data().asByteBuffer(), b.data().asByteBuffer(), e.getKey());
                    }
                }
            }
        }
    }
}
