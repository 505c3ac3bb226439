package fluxj.tensor;

import fluxj.vae.TestWeights;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Conv2dTest {
    /** Direct convolution in double precision from the definition, reading weights exactly as stored. */
    static double[] reference(float[] x, int cin, int h, int w, Tensor wt, float[] bias, int stride, Conv2d.Padding pad) {
        int cout = wt.dim(0), kh = wt.rank() == 4 ? wt.dim(2) : 1, kw = wt.rank() == 4 ? wt.dim(3) : 1;
        int ho = (h + pad.top() + pad.bottom() - kh) / stride + 1, wo = (w + pad.left() + pad.right() - kw) / stride + 1;
        double[] y = new double[cout * ho * wo];
        for (int co = 0; co < cout; co++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++) {
                    double s = bias == null ? 0 : bias[co];
                    for (int ci = 0; ci < cin; ci++)
                        for (int ky = 0; ky < kh; ky++)
                            for (int kx = 0; kx < kw; kx++) {
                                int iy = oy * stride - pad.top() + ky, ix = ox * stride - pad.left() + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                s += (double) wt.get(((long) (co * cin + ci) * kh + ky) * kw + kx) * x[(ci * h + iy) * w + ix];
                            }
                    y[(co * ho + oy) * wo + ox] = s;
                }
        return y;
    }

    // Cases: odd sizes, 3x3 same, inputs no wider than the kernel, asymmetric padding, the VAE's stride-2 downsample with (0,1,0,1) padding, 1x1 (4-D and 2-D
    // weights), a K large enough (Cin 600 x 9) that the image is cut into several im2col blocks, every dtype.
    @ParameterizedTest
    @CsvSource({
            "F32, 5, 7, 9, 3, 1, 1,1,1,1, 4",
            "BF16, 3, 13, 11, 3, 1, 1,1,1,1, 4",
            "F16, 4, 9, 7, 3, 2, 0,0,1,1, 4",
            "F32, 6, 10, 10, 3, 2, 0,0,1,1, 4",
            "F8_E4M3, 3, 6, 5, 3, 1, 1,1,1,1, 4",
            "BF16, 7, 5, 9, 1, 1, 0,0,0,0, 4",
            "F16, 7, 5, 9, 1, 1, 0,0,0,0, 2",
            "F32, 600, 41, 43, 3, 1, 1,1,1,1, 4",
            "F32, 2, 2, 2, 3, 1, 1,1,1,1, 4",
            "BF16, 3, 1, 5, 3, 2, 1,1,1,1, 4",
            "F16, 2, 4, 3, 3, 1, 2,0,1,2, 4",
    })
    void matchesDirectConvolution(DType dtype, int cin, int h, int w, int k, int stride,
                                  int top, int left, int bottom, int right, int rank) {
        Random r = new Random(cin * 1000 + h * 10 + w);
        int cout = 5;
        float[] x = TestWeights.uniform(r, cin * h * w, 1f);
        long[] shape = rank == 4 ? new long[]{cout, cin, k, k} : new long[]{cout, cin};
        Tensor wt = TestWeights.tensor("w", dtype, TestWeights.uniform(r, cout * cin * k * k, 0.5f), shape);
        float[] bias = TestWeights.uniform(r, cout, 1f);
        Conv2d.Padding pad = new Conv2d.Padding(top, left, bottom, right);
        // The production budget would hold this whole image in one block; a 2 MB one cuts it into several.
        long blockBytes = 2L << 20;
        if (cin == 600) assertTrue(Conv2d.blockRows(cin * k * k, h * w, blockBytes) < h * w, "this case must span several blocks");

        float[] xLast = ChannelsLast.transpose(x, cin, h * w);
        Tensor taps = Conv2d.channelsLast(wt, Arena.ofAuto());
        int ho = Conv2d.outSize(h, k, stride, top, bottom), wo = Conv2d.outSize(w, k, stride, left, right), m = ho * wo;
        float[] got;
        if (cin == 600) {
            got = new float[cout * m];
            Conv2d.conv2d(xLast, h, w, taps, bias, stride, pad, got, blockBytes);
        } else {
            got = Conv2d.conv2d(xLast, h, w, taps, bias, stride, pad);
        }
        double[] want = reference(x, cin, h, w, wt, bias, stride, pad);
        assertEquals(want.length, got.length);
        // f32 accumulation of K = cin*k*k products of magnitude <= 0.5: error bound ~ K * 2^-24 * sum|terms|;
        // relative 1e-5 of the sum of |terms| (at most K/2 for these ranges) is several times that bound.
        double tol = 1e-5 * cin * k * k * 0.5 + 1e-6;
        for (int p = 0; p < m; p++) {
            for (int co = 0; co < cout; co++) assertEquals(want[co * m + p], got[p * cout + co], tol, "pixel " + p + " channel " + co);
        }
    }

    @Test
    void channelsLastWeightIsTapMajor() {
        float[] v = new float[2 * 3 * 4];
        for (int i = 0; i < v.length; i++) v[i] = i;  // [Cout 2, Cin 3, 1, 4]: value = (co * 3 + ci) * 4 + tap
        Tensor taps = Conv2d.channelsLast(TestWeights.tensor("w", DType.BF16, v, 2, 3, 1, 4), Arena.ofAuto());
        assertArrayEquals(new long[]{2, 1, 4, 3}, taps.shape());
        for (int co = 0; co < 2; co++)
            for (int t = 0; t < 4; t++)
                for (int ci = 0; ci < 3; ci++) assertEquals((co * 3 + ci) * 4 + t, taps.get((co * 4 + t) * 3 + ci), "co " + co + " tap " + t + " ci " + ci);
    }

    @Test
    void upsampleRepeatsEachPixelOverTwoByTwo() {
        float[] x = {1, 7, 2, 8, 3, 9, 4, 10, 5, 11, 6, 12};  // [2 rows x 3 cols, 2 channels]
        float[] y = Upsample.nearest2x(x, 2, 2, 3);
        float[] want = {
                1, 7, 1, 7, 2, 8, 2, 8, 3, 9, 3, 9,
                1, 7, 1, 7, 2, 8, 2, 8, 3, 9, 3, 9,
                4, 10, 4, 10, 5, 11, 5, 11, 6, 12, 6, 12,
                4, 10, 4, 10, 5, 11, 5, 11, 6, 12, 6, 12};
        assertArrayEquals(want, y);
    }

    @Test
    void rejectsMismatchedInput() {
        Tensor wt = Conv2d.channelsLast(TestWeights.tensor("w", DType.F32, new float[2 * 3 * 9], 2, 3, 3, 3), Arena.ofAuto());
        assertThrows(IllegalArgumentException.class, () -> Conv2d.conv2d(new float[3 * 4 * 4 - 1], 4, 4, wt, null, 1, Conv2d.Padding.same(3)));
        assertThrows(IllegalArgumentException.class, () -> Conv2d.conv2d(new float[3 * 2 * 2], 2, 2, wt, null, 1, Conv2d.Padding.NONE));
    }
}
