package fluxj.condition;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** Kontext's preferred resolutions and the layout of several references. */
class KontextTest {
    @Test
    void preferredResolutionByAspectRatio() {
        assertArrayEquals(new int[]{1024, 1024}, Kontext.preferredSize(1024, 1024));
        assertArrayEquals(new int[]{1024, 1024}, Kontext.preferredSize(500, 512)); // same shape: resized up, as BFL does
        assertArrayEquals(new int[]{1248, 832}, Kontext.preferredSize(1500, 1000)); // 3:2 -> 1248x832 (1.5 exactly)
        assertArrayEquals(new int[]{672, 1568}, Kontext.preferredSize(100, 1000)); // taller than any: the tallest
        assertArrayEquals(new int[]{1568, 672}, Kontext.preferredSize(4000, 100));
        for (int[] p : Kontext.PREFERRED) assertArrayEquals(p, Kontext.preferredSize(p[0], p[1]));
    }

    @Test
    void offsetLayoutAsComfyUI() {
        // the README's example: 672x1568 then 1024x1024 -> the second block's columns start at 42 (84 latent pixels)
        int[][] off = Kontext.offsets(new int[][]{{1568 / 8, 672 / 8}, {1024 / 8, 1024 / 8}});
        assertArrayEquals(new int[]{0, 0}, off[0]);
        assertArrayEquals(new int[]{0, 42}, off[1]);
        // three squares: the second below the first (128 + 128 > 128 + 128 is false), the third to the right
        off = Kontext.offsets(new int[][]{{128, 128}, {128, 128}, {128, 128}});
        assertArrayEquals(new int[]{0, 0}, off[0]);
        assertArrayEquals(new int[]{64, 0}, off[1]); // 128 latent rows = 64 token rows down
        assertArrayEquals(new int[]{0, 64}, off[2]); // 128 + 256 > 128 + 128: right of both
    }
}
