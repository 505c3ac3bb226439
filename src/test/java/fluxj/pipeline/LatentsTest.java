package fluxj.pipeline;

import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class LatentsTest {

    @Test
    void packMatchesFixtureAndUnpackInverts() {
        Npy noise = Npy.read(Fixtures.caseDir("p01_schnell_diffusers").resolve("noise.npy"));
        float[] packed = Latents.pack(noise.floats(), 16, 4, 4);
        // pure data movement: exact
        assertArrayEquals(Npy.read(Fixtures.caseDir("p01_schnell_diffusers").resolve("noise_packed.npy")).floats(), packed, 0f);
        assertArrayEquals(noise.floats(), Latents.unpack(packed, 16, 4, 4), 0f);
    }

    @Test
    void noiseIsTorchRandnOfTheLatentShape() {
        float[] n = Latents.noise(42, 16, 64, 64);
        assertArrayEquals(Npy.read(Fixtures.caseDir("p01_schnell_diffusers").resolve("noise.npy")).floats(), n, 0f);
    }

    @Test
    void packLayoutOnANonSquareGrid() {
        // c=1, 2h=2, 2w=4: tokens (0,0) and (0,1) hold patches [[0,1],[4,5]] and [[2,3],[6,7]]
        float[] x = {0, 1, 2, 3, 4, 5, 6, 7};
        assertArrayEquals(new float[]{0, 1, 4, 5, 2, 3, 6, 7}, Latents.pack(x, 1, 1, 2), 0f);
        assertArrayEquals(x, Latents.unpack(Latents.pack(x, 1, 1, 2), 1, 1, 2), 0f);
    }

    @Test
    void idsAreRowColumnForImageAndZeroForText() {
        float[] ids = Latents.imageIds(2, 3);
        assertArrayEquals(new float[]{0, 1, 2}, new float[]{ids[5 * 3], ids[5 * 3 + 1], ids[5 * 3 + 2]}, 0f);
        assertEquals(18, ids.length);
        assertArrayEquals(new float[12], Latents.textIds(4), 0f);
    }
}
