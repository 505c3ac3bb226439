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

    @Test
    void transposeSwapsRowsAndColumns() {
        float[] a = {1, 2, 3, 4, 5, 6};  // [2, 3]
        assertArrayEquals(new float[]{1, 4, 2, 5, 3, 6}, ChannelsLast.transpose(a, 2, 3));
        assertArrayEquals(a, ChannelsLast.transpose(ChannelsLast.transpose(a, 2, 3), 3, 2));
    }
}
