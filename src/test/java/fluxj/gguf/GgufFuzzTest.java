package fluxj.gguf;

import fluxj.io.Checkpoint;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Tensor;
import fluxj.tensor.Widen;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Damaged and hostile GGUF files: each either opens (and then every tensor decodes) or ends in one
 * ModelFormatException naming the file, quickly and without exhausting memory.
 */
@Timeout(120)
class GgufFuzzTest {
    @TempDir
    Path dir;
    byte[] valid;
    int dataStart;
    /** Where the last tensor's bytes end (its alignment padding follows). */
    long dataEnd;

    @BeforeEach
    void writeValidFile() throws IOException {
        Path f = dir.resolve("valid.gguf");
        GgufWriter.write(f, GgufFileTest.allValueTypes(), GgufFileTest.SPECS, GgufFileTest::pattern);
        valid = Files.readAllBytes(f);
        dataStart = GgufWriter.header(GgufFileTest.allValueTypes(), GgufFileTest.SPECS).length;
        try (GgufFile g = GgufFile.open(f)) {
            Tensor first = g.tensors().values().iterator().next(), last = g.tensors().get("d.weight");
            dataEnd = dataStart + last.data().address() - first.data().address() + last.data().byteSize();
        }
    }

    /** Opens p through GgufFile and Checkpoint: success (decoding everything) or one clear error. */
    static boolean opensOrFailsCleanly(Path p) {
        try (GgufFile g = GgufFile.open(p)) {
            for (Tensor t : g.tensors().values()) {
                float[] out = new float[(int) t.numel()];
                Widen.span(t, 0, out.length, out, 0);
            }
        } catch (ModelFormatException e) {
            assertTrue(e.getMessage().startsWith(p + ": "), "names the file: " + e.getMessage());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
            ModelFormatException c = assertThrows(ModelFormatException.class, () -> Checkpoint.open(p).close());
            assertEquals(e.getMessage(), c.getMessage(), "Checkpoint reports the reader's error");
            return false;
        } catch (IOException e) {
            fail(e);
        }
        return true;
    }

    @Test
    void everyTruncationIsRejected() throws IOException {
        Path p = dir.resolve("cut.gguf");
        for (int len = 0; len < valid.length; len++) {
            Files.write(p, Arrays.copyOf(valid, len));
            if (len >= dataEnd) {
                // only the padding after the last tensor is missing: the data itself is all there
                assertTrue(opensOrFailsCleanly(p), "length " + len);
            } else {
                assertFalse(opensOrFailsCleanly(p), "truncated to " + len + " bytes must fail");
            }
        }
    }

    @Test
    void flippedBytesNeverEscapeAsOtherErrors() throws IOException {
        SplittableRandom rnd = new SplittableRandom(12);
        Path p = dir.resolve("flip.gguf");
        for (int round = 0; round < 3000; round++) {
            byte[] b = valid.clone();
            int flips = 1 + rnd.nextInt(3);
            for (int f = 0; f < flips; f++) {
                int at = rnd.nextInt(dataStart);
                b[at] = (byte) (round % 2 == 0 ? b[at] ^ (1 << rnd.nextInt(8)) : rnd.nextInt(256));
            }
            Files.write(p, b);
            opensOrFailsCleanly(p);
        }
    }

    @Test
    void lyingCountsAndLengths() throws IOException {
        Path p = dir.resolve("lie.gguf");
        // every u64 field of the header in turn set to huge, negative and off-by-one values
        for (int at = 8; at + 8 <= dataStart; at++) {
            long orig = ByteBuffer.wrap(valid).order(ByteOrder.LITTLE_ENDIAN).getLong(at);
            for (long v : new long[] {1L << 62, -1L, Long.MAX_VALUE, orig + 1, (1L << 40)}) {
                byte[] b = valid.clone();
                ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(at, v);
                Files.write(p, b);
                opensOrFailsCleanly(p);
            }
        }
    }
}
