package fluxj.image;

import fluxj.testing.Pillow;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;

/** The Lanczos resize against Pillow's own {@code Image.resize(size, Image.LANCZOS)}, byte for byte. */
class LanczosTest {
    @TempDir
    Path dir;

    // {w, h, bands, outW, outH}: up, down, both, by non-integer ratios, to and from one pixel, RGB and L
    private static final int[][] CASES = {
            {64, 64, 3, 48, 80}, {37, 23, 3, 96, 64}, {200, 120, 3, 64, 48}, {1024, 1024, 3, 1008, 1008},
            {5, 3, 3, 1, 1}, {1, 1, 3, 7, 5}, {300, 17, 1, 16, 32}, {33, 65, 1, 80, 48}, {64, 64, 3, 64, 40}, {64, 64, 3, 40, 64}};

    private static final String SCRIPT = """
            import sys, os
            from PIL import Image
            d = sys.argv[1]
            for line in open(os.path.join(d, 'cases.txt')):
                i, w, h, b, ow, oh = map(int, line.split())
                data = open(os.path.join(d, 'in%d.raw' % i), 'rb').read()
                im = Image.frombytes('RGB' if b == 3 else 'L', (w, h), data)
                open(os.path.join(d, 'out%d.raw' % i), 'wb').write(im.resize((ow, oh), Image.LANCZOS).tobytes())
            """;

    @Test
    void matchesPillowByteForByte() throws Exception {
        Random rnd = new Random(17);
        StringBuilder list = new StringBuilder();
        byte[][] inputs = new byte[CASES.length][];
        for (int i = 0; i < CASES.length; i++) {
            int[] c = CASES[i];
            byte[] px = new byte[c[0] * c[1] * c[2]];
            // smooth gradients plus noise and hard edges: ringing, clipping at 0 and 255, and exact ties all occur
            for (int p = 0; p < px.length; p++) {
                int x = (p / c[2]) % c[0], y = p / c[2] / c[0];
                int v = (x * 255 / Math.max(1, c[0] - 1) + (y % 7 == 0 ? 255 : 0) + rnd.nextInt(64) - 32);
                px[p] = (byte) Math.clamp(v, 0, 255);
            }
            inputs[i] = px;
            Files.write(dir.resolve("in" + i + ".raw"), px);
            list.append(i).append(' ').append(c[0]).append(' ').append(c[1]).append(' ').append(c[2]).append(' ').append(c[3]).append(' ').append(c[4]).append('\n');
        }
        Files.writeString(dir.resolve("cases.txt"), list);
        Pillow.run(SCRIPT, dir);
        for (int i = 0; i < CASES.length; i++) {
            int[] c = CASES[i];
            byte[] want = Files.readAllBytes(dir.resolve("out" + i + ".raw"));
            assertArrayEquals(want, Lanczos.resize(inputs[i], c[0], c[1], c[2], c[3], c[4]), () -> java.util.Arrays.toString(c));
        }
    }

    @Test
    void sameSizeIsACopy() {
        byte[] px = {1, 2, 3, 4, 5, 6};
        byte[] out = Lanczos.resize(px, 2, 1, 3, 2, 1);
        assertArrayEquals(px, out);
        assertNotSame(px, out);
    }
}
