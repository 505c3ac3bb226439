package fluxj.tensor;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChannelsLastTest {
    private static float[] data(int n, double spread, double offset, long seed) {
        Random rnd = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextGaussian() * spread + offset);
        return a;
    }

    // Channel counts a multiple of the vector length and not (scalar tails), pixel counts below and above the
    // fixed chunk count and the f32 run length, an offset mean (the two-pass variance must not cancel), and in place.
    @ParameterizedTest
    @CsvSource({"12, 4, 37, false, false", "48, 16, 70, true, false", "64, 32, 1000, true, true", "20, 5, 3, true, true"})
    void groupNormMatchesDefinition(int channels, int groups, int pixels, boolean silu, boolean inPlace) {
        float[] x = data(pixels * channels, 2, 3, channels + pixels), g = data(channels, 1, 0, 10), b = data(channels, 1, 0, 11);
        float[] out = inPlace ? x.clone() : new float[x.length];
        ChannelsLast.groupNorm(inPlace ? out : x, pixels, channels, groups, g, b, 1e-6f, silu, out);
        int cpg = channels / groups;
        for (int grp = 0; grp < groups; grp++) {
            double mean = 0, var = 0, n = (double) cpg * pixels;
            for (int p = 0; p < pixels; p++) for (int c = grp * cpg; c < (grp + 1) * cpg; c++) mean += x[p * channels + c];
            mean /= n;
            for (int p = 0; p < pixels; p++) for (int c = grp * cpg; c < (grp + 1) * cpg; c++) var += Math.pow(x[p * channels + c] - mean, 2);
            double inv = 1 / Math.sqrt(var / n + 1e-6);
            for (int p = 0; p < pixels; p++) {
                for (int c = grp * cpg; c < (grp + 1) * cpg; c++) {
                    double want = (x[p * channels + c] - mean) * inv * g[c] + b[c];
                    if (silu) want = want / (1 + Math.exp(-want));
                    float got = out[p * channels + c];
                    // f32 normalisation of values within a few units: a few ulp of the result.
                    assertTrue(Math.abs(got - want) <= 2e-6 * Math.abs(want) + 2e-6, "pixel " + p + " channel " + c + ": got " + got + ", want " + want);
                }
            }
        }
    }

    // An image seen in parts of uneven sizes (a band of one pixel among them), a mean far from zero (E[x^2] - E[x]^2
    // must keep its precision in double), channels not a multiple of the vector length.
    @Test
    void momentsInPartsGiveTheWholeImagesGroupNorm() {
        int channels = 20, groups = 5, pixels = 777;
        float[] x = data(pixels * channels, 0.5, 40, 3), g = data(channels, 1, 0, 4), b = data(channels, 1, 0, 5);
        ChannelsLast.Affine whole = ChannelsLast.groupNormAffine(x, pixels, channels, groups, g, b, 1e-6f);
        ChannelsLast.Moments m = new ChannelsLast.Moments(channels);
        for (int[] part : new int[][]{{0, 300}, {300, 301}, {301, 777}}) {
            m.add(java.util.Arrays.copyOfRange(x, part[0] * channels, part[1] * channels), part[1] - part[0]);
        }
        ChannelsLast.Affine parts = m.groupNorm(groups, g, b, 1e-6f);
        for (int c = 0; c < channels; c++) {
            // The same statistics summed in another order: f32 rounding of the mean (40: 4e-6) and the scale.
            assertTrue(Math.abs(parts.mean()[c] - whole.mean()[c]) <= 1e-5, "mean " + c + ": " + parts.mean()[c] + " vs " + whole.mean()[c]);
            assertTrue(Math.abs(parts.scale()[c] - whole.scale()[c]) <= 1e-5 * Math.abs(whole.scale()[c]), "scale " + c + ": " + parts.scale()[c] + " vs " + whole.scale()[c]);
            assertTrue(parts.shift()[c] == whole.shift()[c]);
        }
    }

    @Test
    void normalizeMapsAPartIntoPlace() {
        int channels = 12, pixels = 9;
        float[] x = data(pixels * channels, 2, 1, 6);
        ChannelsLast.Affine f = ChannelsLast.groupNormAffine(x, pixels, channels, 3, null, null, 1e-6f);
        float[] whole = new float[x.length], part = new float[x.length];
        ChannelsLast.normalize(x, 0, pixels, f, true, whole, 0);
        ChannelsLast.normalize(x, 4, 3, f, true, part, 2);
        for (int i = 0; i < 3 * channels; i++) assertTrue(part[2 * channels + i] == whole[4 * channels + i], "value " + i);
    }

    @Test
    void transposeSwapsRowsAndColumns() {
        float[] a = {1, 2, 3, 4, 5, 6};  // [2, 3]
        assertArrayEquals(new float[]{1, 4, 2, 5, 3, 6}, ChannelsLast.transpose(a, 2, 3));
        assertArrayEquals(a, ChannelsLast.transpose(ChannelsLast.transpose(a, 2, 3), 3, 2));
    }
}
