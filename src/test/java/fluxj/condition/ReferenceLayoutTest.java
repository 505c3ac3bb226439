package fluxj.condition;

import fluxj.pipeline.LatentEncoder;
import fluxj.pipeline.Latents;
import fluxj.pipeline.RgbImage;
import fluxj.sampling.Schedule;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Several Kontext references through the seam: order, sizes, position ids, resizing, and the dropped predictions. */
class ReferenceLayoutTest {
    @Test
    void referencesAreEncodedAtTheirKontextSizeAndLaidOutInOrder() {
        List<int[]> encodedSizes = new ArrayList<>();
        // each encode returns its call number + 0.5 everywhere (exact in bf16), so the blocks can be told apart
        LatentEncoder enc = (x, h, w) -> {
            encodedSizes.add(new int[]{w, h});
            float[] z = new float[16 * (h / 8) * (w / 8)];
            Arrays.fill(z, encodedSizes.size() + 0.5f);
            return z;
        };
        List<String> notes = new ArrayList<>();
        List<ImageCondition> refs = List.of(
                new ImageCondition.Reference(SourceImage.of(new RgbImage(672, 1568, new byte[672 * 1568 * 3]))),
                new ImageCondition.Reference(SourceImage.of(new RgbImage(100, 100, new byte[100 * 100 * 3]))));
        int w = 48, h = 32, n = (w / 16) * (h / 16);
        ImageConditioning p = ImageConditioning.prepare(refs, ModelInput.LATENT, enc, w, h, 16,
                new float[16 * (h / 8) * (w / 8)], Schedule.DEV.timesteps(2, n), notes::add);

        assertArrayEquals(new int[]{672, 1568}, encodedSizes.get(0)); // already a Kontext resolution: as it is
        assertArrayEquals(new int[]{1024, 1024}, encodedSizes.get(1)); // square: resized to 1024x1024
        assertEquals(1, notes.size(), notes.toString());
        assertTrue(notes.getFirst().contains("from 100x100 to 1024x1024 (Lanczos)"), notes.getFirst());

        int r1 = (1568 / 16) * (672 / 16), r2 = 64 * 64;
        assertEquals(n + r1 + r2, p.tokens());
        float[] ids = p.ids();
        assertArrayEquals(Latents.imageIds(h / 16, w / 16), Arrays.copyOf(ids, n * 3), 0f);
        // the first block at (1, 0, 0) .. (1, 97, 41), the second to its right from column 42
        assertArrayEquals(new float[]{1, 0, 0}, Arrays.copyOfRange(ids, n * 3, n * 3 + 3), 0f);
        assertArrayEquals(new float[]{1, 97, 41}, Arrays.copyOfRange(ids, (n + r1 - 1) * 3, (n + r1) * 3), 0f);
        assertArrayEquals(new float[]{1, 0, 42}, Arrays.copyOfRange(ids, (n + r1) * 3, (n + r1 + 1) * 3), 0f);
        assertArrayEquals(new float[]{1, 63, 42 + 63}, Arrays.copyOfRange(ids, (n + r1 + r2 - 1) * 3, (n + r1 + r2) * 3), 0f);

        float[] x = new float[n * 64];
        Arrays.fill(x, -3f);
        float[] in = p.input(x);
        assertEquals((n + r1 + r2) * 64, in.length);
        assertEquals(-3f, in[n * 64 - 1]);
        assertEquals(1.5f, in[n * 64]);
        assertEquals(1.5f, in[(n + r1) * 64 - 1]);
        assertEquals(2.5f, in[(n + r1) * 64]);
        // only the target tokens' predictions are kept
        float[] out = new float[(n + r1 + r2) * 64];
        Arrays.fill(out, n * 64, out.length, Float.NaN);
        assertEquals(n * 64, p.velocity(out).length);
        assertTrue(Arrays.stream(box(p.velocity(out))).noneMatch(v -> v.isNaN()));
    }

    private static Float[] box(float[] a) {
        Float[] b = new Float[a.length];
        for (int i = 0; i < a.length; i++) b[i] = a[i];
        return b;
    }
}
