package fluxj.tensor.onednn;

import fluxj.tensor.ChannelsLast;
import fluxj.tensor.Conv2d;
import fluxj.tensor.ConvInput;
import fluxj.tensor.ConvKernel;
import fluxj.tensor.DType;
import fluxj.tensor.Tensor;
import fluxj.testing.OneDnn;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * oneDNN's bf16 convolution against (a) a double-precision direct convolution of exactly what it should compute
 * (image and weights rounded to bf16, products summed, f32 bias), written from the definition on the channels-last
 * image [h*w, Cin] and tap-major weights [Cout, kh, kw, Cin], and (b) the pure-Java f32 convolution. Sizes are odd
 * and some channel counts exceed oneDNN's 16- and 64-channel blocks, so every tail runs.
 */
class OneDnnConvTest {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** The Java kernel as Conv2d runs it by default (the test JVM runs --matmul java). */
    private static final ConvKernel JAVA = new ConvKernel() {
        @Override public String name() { return "Conv2d"; }
        @Override public void conv2d(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Conv2d.Padding pad, float[] out) {
            Conv2d.conv2d(x, h, w, weight, bias, stride, pad, out);
        }
    };

    @BeforeEach
    void needsOneDnn() {
        OneDnn.require("oneDNN convolution");
    }

    // 3x3 same padding (BF16 weights used in place, at an odd address, and F32/F16 narrowed), 1x1 as [Cout, Cin]
    // and as [Cout, 1, 1, Cin], the encoder's stride-2 downsample padded by one row and column at the bottom and
    // right, no bias, and channel counts past oneDNN's channel blocks.
    @ParameterizedTest
    @CsvSource({
            "BF16, 5, 7, 9, 11, 3, 1, 1,1,1,1, 4, true",
            "F32, 3, 4, 6, 5, 3, 1, 1,1,1,1, 4, true",
            "F16, 6, 4, 5, 7, 1, 1, 0,0,0,0, 2, true",
            "BF16, 6, 9, 5, 7, 1, 1, 0,0,0,0, 4, false",
            "BF16, 4, 5, 8, 10, 3, 2, 0,0,1,1, 4, true",
            "F32, 70, 66, 13, 9, 3, 1, 1,1,1,1, 4, true",
            "F32, 70, 66, 13, 9, 3, 2, 0,0,1,1, 4, false",
            "BF16, 67, 130, 7, 6, 1, 1, 0,0,0,0, 2, true",
    })
    void matchesTheBf16ReferenceAndTheJavaPath(DType dt, int cin, int cout, int h, int w, int k, int stride,
                                               int top, int left, int bottom, int right, int rank, boolean withBias) {
        Random rnd = new Random(cin * 1000L + cout * 100L + h * 10L + w);
        Conv2d.Padding pad = new Conv2d.Padding(top, left, bottom, right);
        int ho = Conv2d.outSize(h, k, stride, top, bottom), wo = Conv2d.outSize(w, k, stride, left, right);
        float[] x = new float[cin * h * w];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        float[] bias = withBias ? new float[cout] : null;
        if (bias != null) for (int i = 0; i < cout; i++) bias[i] = (float) rnd.nextGaussian();
        try (Arena arena = Arena.ofShared()) {
            long n = (long) cout * cin * k * k;
            MemorySegment data = arena.allocate(n * dt.byteSize() + 1).asSlice(1);
            for (long i = 0; i < n; i++) put(dt, data, i, (float) (rnd.nextGaussian() * 0.2));
            long[] shape = rank == 4 ? new long[] {cout, k, k, cin} : new long[] {cout, cin};
            Tensor wt = new Tensor("w", dt, shape, data, 1f, "test");

            float[] java = new float[cout * ho * wo];
            JAVA.conv2d(x, h, w, wt, bias, stride, pad, java);
            float[] got = new float[cout * ho * wo];
            new OneDnnConv(JAVA).conv2d(x, h, w, wt, bias, stride, pad, got);

            for (int co = 0; co < cout; co++) {
                for (int oy = 0; oy < ho; oy++) {
                    for (int ox = 0; ox < wo; ox++) {
                        double exact = 0, absSum = 0, sq = 0;
                        for (int ci = 0; ci < cin; ci++) {
                            for (int ky = 0; ky < k; ky++) {
                                for (int kx = 0; kx < k; kx++) {
                                    int iy = oy * stride - top + ky, ix = ox * stride - left + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    float wv = dt.get(data, ((long) (co * k + ky) * k + kx) * cin + ci), xv = x[(iy * w + ix) * cin + ci];
                                    double p = (double) bf16(wv) * bf16(xv);
                                    exact += p;
                                    absSum += Math.abs(p);
                                    sq += (double) wv * xv * wv * xv;
                                }
                            }
                        }
                        double b = bias == null ? 0 : bias[co];
                        exact += b;
                        int i = (oy * wo + ox) * cout + co;
                        // (a) f32 accumulation of the K exact bf16 products and the bias: at most K * 2^-24 of the
                        // absolute sum (worst case), plus one rounding of the result.
                        int kk = cin * k * k;
                        double accTol = kk * 0x1p-24 * (absSum + Math.abs(b)) + 0x1p-22 * Math.abs(exact);
                        assertEquals(exact, got[i], accTol, dt + " out[" + co + "," + oy + "," + ox + "] against the bf16 reference");
                        // (b) Rounding the image and non-bf16 weights to bf16 moves each product by up to 2^-8
                        // relative (two roundings: 2^-7), independently and of random sign: the sum moves by about
                        // 2^-7 * sqrt(sum of squared products / 3); 6 such deviations never happen by chance here. The Java
                        // path's own f32 accumulation error is bounded like (a).
                        double walkTol = 6 * 0x1p-7 * Math.sqrt(sq / 3) + 2 * accTol;
                        assertEquals(java[i], got[i], walkTol, dt + " out[" + co + "," + oy + "," + ox + "] against the Java f32 path");
                    }
                }
            }
        }
    }

    // The fused call (GroupNorm map + SiLU or the 2x upsample applied as the bf16 input is written, the skip added
    // and the moments summed as the output is copied out) against the same oneDNN convolution on the materialised
    // input followed by the separate passes. The mapped values are the same f32 operations in the same order
    // (ChannelsLast.normalize's), so the bf16 input, hence the output, must match exactly; the moments are summed
    // in f32 runs of 256 pixels added in double instead of all in double: each run's relative error is at most
    // 256 * 2^-24 = 1.5e-5 of its absolute sum, so 1e-4 of the norm's scale bounds the difference of its map.
    @ParameterizedTest
    @CsvSource({
            "70, 66, 9, 7, 3, norm, true, 2",
            "32, 24, 6, 10, 3, norm, false, 8",
            "48, 48, 8, 6, 3, up, true, 4",
            "35, 3, 5, 7, 3, norm, false, 3",
            "40, 40, 6, 6, 1, plain, true, 4",
    })
    void fusedInputAndOutputPassesMatchTheSeparatePasses(int cin, int cout, int h, int w, int k, String input, boolean skip, int groups) {
        Random rnd = new Random(cin * 31L + cout);
        ConvInput in = input(input, cin, h, w, cout != 3, rnd);
        float[] x = in.x();
        float[] bias = new float[cout], skipArray = skip ? new float[cout * h * w] : null;
        for (int i = 0; i < cout; i++) bias[i] = (float) rnd.nextGaussian();
        if (skip) for (int i = 0; i < skipArray.length; i++) skipArray[i] = (float) rnd.nextGaussian();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment data = arena.allocate(2L * cout * k * k * cin);
            for (long i = 0; i < (long) cout * k * k * cin; i++) put(DType.BF16, data, i, (float) (rnd.nextGaussian() * 0.2));
            Tensor wt = new Tensor("w", DType.BF16, new long[] {cout, k, k, cin}, data, 1f, "test");
            OneDnnConv conv = new OneDnnConv(JAVA);
            Conv2d.Padding pad = Conv2d.Padding.same(k);

            float[] want = new float[cout * h * w];
            conv.conv2d(in.materialize(h, w), h, w, wt, bias, 1, pad, want);
            if (skip) for (int i = 0; i < want.length; i++) want[i] += skipArray[i];
            ChannelsLast.Moments wantMoments = new ChannelsLast.Moments(cout);
            wantMoments.add(want, h * w);

            // The plain input (as many channels in as out) is written over by the output: the caller's array, which
            // the kernel has read by the time it writes.
            boolean overwrite = input.equals("plain");
            float[] got = overwrite ? x.clone() : new float[cout * h * w];
            ConvInput fused = overwrite ? ConvInput.of(got, cin) : in;
            ChannelsLast.Moments gotMoments = new ChannelsLast.Moments(cout);
            conv.conv2d(fused, h, w, wt, bias, 1, pad, got, skipArray, gotMoments);
            for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 0f, "out[" + i + "]");

            ChannelsLast.Affine a = wantMoments.groupNorm(groups, null, null, 1e-6f), b = gotMoments.groupNorm(groups, null, null, 1e-6f);
            for (int c = 0; c < cout; c++) {
                assertEquals(a.scale()[c], b.scale()[c], 1e-4 * a.scale()[c], "scale[" + c + "]");
                assertEquals(a.mean()[c], b.mean()[c], 1e-4 / a.scale()[c], "mean[" + c + "]");
            }
        }
    }

    // The f32 convolution (the VAE encoder's) keeps image and weights as they are: it agrees with the exact
    // convolution of the mapped f32 input to f32 accumulation, K * 2^-24 of the absolute sum of the products plus a
    // rounding of the result. The bf16 convolution on the same call misses that bound (its roundings are 2^-9
    // relative per product), which shows the bound tells the two apart.
    @ParameterizedTest
    @CsvSource({
            "BF16, plain, 5, 7, 9, 11, 3, 1, 1,1,1,1",
            "F16, norm, 70, 66, 9, 7, 3, 1, 1,1,1,1",
            "F32, up, 48, 24, 8, 6, 3, 1, 1,1,1,1",
            "BF16, plain, 20, 30, 8, 10, 3, 2, 0,0,1,1",
            "F32, norm, 67, 130, 7, 6, 1, 1, 0,0,0,0",
    })
    void f32ConvolutionKeepsImageAndWeightsInF32(DType dt, String input, int cin, int cout, int h, int w, int k, int stride,
                                                  int top, int left, int bottom, int right) {
        Random rnd = new Random(cin * 7L + cout);
        ConvInput in = input(input, cin, h, w, true, rnd);
        float[] mapped = in.materialize(h, w), bias = new float[cout];
        for (int i = 0; i < cout; i++) bias[i] = (float) rnd.nextGaussian();
        Conv2d.Padding pad = new Conv2d.Padding(top, left, bottom, right);
        int ho = Conv2d.outSize(h, k, stride, top, bottom), wo = Conv2d.outSize(w, k, stride, left, right);
        try (Arena arena = Arena.ofShared()) {
            long n = (long) cout * k * k * cin;
            MemorySegment data = arena.allocate(n * dt.byteSize());
            for (long i = 0; i < n; i++) put(dt, data, i, (float) (rnd.nextGaussian() * 0.2));
            Tensor wt = new Tensor("w", dt, new long[] {cout, k, k, cin}, data, 1f, "test");
            ConvKernel f32 = new OneDnnConv(JAVA).f32();
            assertTrue(f32.name().contains("f32") && f32.f32() == f32, f32.name());
            float[] got = new float[cout * ho * wo], bf16 = new float[cout * ho * wo];
            OneDnnTime.Span before = OneDnnTime.mark();
            f32.conv2d(in, h, w, wt, bias, stride, pad, got, null, null);
            assertEquals(2L * cout * cin * k * k * ho * wo, OneDnnTime.mark().since(before).flops(), "the benches' count of oneDNN's arithmetic");
            new OneDnnConv(JAVA).conv2d(in, h, w, wt, bias, stride, pad, bf16, null, null);
            boolean bf16Misses = false;
            for (int co = 0; co < cout; co++) {
                for (int oy = 0; oy < ho; oy++) {
                    for (int ox = 0; ox < wo; ox++) {
                        double exact = bias[co], absSum = Math.abs(bias[co]);
                        for (int ky = 0; ky < k; ky++) {
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * stride - top + ky, ix = ox * stride - left + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                for (int ci = 0; ci < cin; ci++) {
                                    double p = (double) dt.get(data, ((long) (co * k + ky) * k + kx) * cin + ci) * mapped[(iy * w + ix) * cin + ci];
                                    exact += p;
                                    absSum += Math.abs(p);
                                }
                            }
                        }
                        int i = (oy * wo + ox) * cout + co;
                        double tol = cin * k * k * 0x1p-24 * absSum + 0x1p-23 * Math.abs(exact);
                        assertEquals(exact, got[i], tol, dt + " " + input + " out[" + co + "," + oy + "," + ox + "]");
                        bf16Misses |= Math.abs(bf16[i] - exact) > tol;
                    }
                }
            }
            assertTrue(bf16Misses, "the bf16 convolution met the f32 bound: the test would not see a rounding");
        }
    }

    // A scaled weight takes the fallback kernel for the fused call too, through the separate passes.
    @Test
    void fusedCallWithScaledWeightsRunsTheSeparatePassesOnTheFallback() {
        Random rnd = new Random(5);
        int cin = 4, cout = 3, h = 4, w = 6;
        float[] x = new float[cin * h * w / 4], skip = new float[cout * h * w];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < skip.length; i++) skip[i] = (float) rnd.nextGaussian();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment data = arena.allocate(4L * cout * 9 * cin);
            for (long i = 0; i < (long) cout * 9 * cin; i++) put(DType.F32, data, i, (float) rnd.nextGaussian());
            Tensor wt = new Tensor("w", DType.F32, new long[] {cout, 3, 3, cin}, data, 0.5f, "test");
            float[] want = new float[cout * h * w], got = new float[cout * h * w];
            JAVA.conv2d(ConvInput.upsampled(x, cin).materialize(h, w), h, w, wt, null, 1, Conv2d.Padding.same(3), want);
            for (int i = 0; i < want.length; i++) want[i] += skip[i];
            new OneDnnConv(JAVA).conv2d(ConvInput.upsampled(x, cin), h, w, wt, null, 1, Conv2d.Padding.same(3), got, skip, null);
            for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 0f, "out[" + i + "]");
        }
    }

    @Test
    void scaledWeightsGoToTheJavaKernel() {
        int[] calls = {0};
        ConvKernel recording = new ConvKernel() {
            @Override public String name() { return "recording"; }
            @Override public void conv2d(float[] x, int h, int w, Tensor weight, float[] bias, int stride, Conv2d.Padding pad, float[] out) { calls[0]++; }
        };
        try (Arena arena = Arena.ofShared()) {
            Tensor scaled = new Tensor("w", DType.F8_E4M3, new long[] {2, 3, 3, 3}, arena.allocate(54), 0.5f, "test");
            Tensor plain = new Tensor("w", DType.F8_E4M3, new long[] {2, 3, 3, 3}, arena.allocate(54), 1f, "test");
            OneDnnConv conv = new OneDnnConv(recording);
            conv.conv2d(new float[3 * 16], 4, 4, scaled, null, 1, Conv2d.Padding.same(3), new float[2 * 16]);
            assertEquals(1, calls[0], "a per-tensor scale: the Java kernel");
            conv.conv2d(new float[3 * 16], 4, 4, plain, null, 1, Conv2d.Padding.same(3), new float[2 * 16]);
            assertEquals(1, calls[0], "no scale: oneDNN");
        }
        assertTrue(OneDnnConv.implementations().stream().noneMatch(String::isBlank));
    }

    // On AVX-512 oneDNN keeps activations channels-last, so the reorders to and from its own layouts never run in
    // the test above; fixing its layouts to plain NCHW forces both, and the result must equal the channels-last run's
    // (same products; the summation order may differ, hence the f32 accumulation bound of the test above).
    @Test
    void reordersToAndFromAnotherLayoutGiveTheSameConvolution() {
        DnnlConv d = new DnnlConv(OneDnnLibrary.require().dnnl());
        DnnlConv.Shape s = new DnnlConv.Shape(5, 7, 3, 3, 6, 9, 1, 1, 1, 1, 1, true, Dnnl.BF16);
        int pixels = s.h() * s.w(), outPixels = s.ho() * s.wo(), k = s.cin() * 9;
        Random rnd = new Random(11);
        DnnlConv.Convolution plain = d.convolution(s, DnnlConv.TAG_NCHW), own = d.convolution(s);
        assertTrue(!plain.srcChannelsLast && !plain.dstChannelsLast, "NCHW was asked for: " + plain.impl);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment src = arena.allocate(2L * pixels * s.cin()), weights = arena.allocate(2L * s.cout() * k);
            MemorySegment bias = arena.allocate(4L * s.cout());
            for (int i = 0; i < pixels * s.cin(); i++) src.set(I16, 2L * i, DType.floatToBf16((float) rnd.nextGaussian()));
            for (int i = 0; i < s.cout() * k; i++) weights.set(I16, 2L * i, DType.floatToBf16((float) (rnd.nextGaussian() * 0.2)));
            for (int i = 0; i < s.cout(); i++) bias.set(F32, 4L * i, (float) rnd.nextGaussian());
            float[][] out = new float[2][];
            DnnlConv.Convolution[] convs = {plain, own};
            for (int c = 0; c < 2; c++) {
                DnnlConv.Convolution conv = convs[c];
                DnnlConv.Packed packed = conv.packWeights(weights);
                MemorySegment dst = arena.allocate(4L * outPixels * s.cout());
                conv.execute(src, packed, bias, dst, arena.allocate(Math.max(1, conv.srcScratchBytes), 64),
                        arena.allocate(Math.max(1, conv.dstScratchBytes), 64));
                out[c] = dst.toArray(ValueLayout.JAVA_FLOAT);
                d.free(packed);
                conv.destroy();
            }
            // Each of the two f32 sums is within k * 2^-24 of the absolute sum of its products and bias, at most
            // k * max|x| * max|w| + max|b|; a layout mistake would move values by O(1).
            double maxX = 0, maxW = 0, maxB = 0;
            for (int i = 0; i < pixels * s.cin(); i++) maxX = Math.max(maxX, Math.abs(DType.bf16ToFloat(src.get(I16, 2L * i))));
            for (int i = 0; i < s.cout() * k; i++) maxW = Math.max(maxW, Math.abs(DType.bf16ToFloat(weights.get(I16, 2L * i))));
            for (int i = 0; i < s.cout(); i++) maxB = Math.max(maxB, Math.abs(bias.get(F32, 4L * i)));
            double tol = 2 * k * 0x1p-24 * (k * maxX * maxW + maxB);
            for (int i = 0; i < out[0].length; i++) assertEquals(out[1][i], out[0][i], tol, "out[" + i + "] (NCHW against channels-last)");
        }
    }

    /**
     * A random image of {@code cin} channels described as {@code kind}: "norm" (a GroupNorm map of it, then SiLU when
     * {@code silu}; 5, 4, 2 or 1 groups, whichever divides first), "up" (nearest-upsampled to h x w) or as it is.
     */
    private static ConvInput input(String kind, int cin, int h, int w, boolean silu, Random rnd) {
        boolean up = kind.equals("up");
        int pixels = (up ? h / 2 : h) * (up ? w / 2 : w);
        float[] x = new float[cin * pixels];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * 3 + 1);
        float[] gamma = new float[cin], beta = new float[cin];
        for (int c = 0; c < cin; c++) {
            gamma[c] = (float) (1 + 0.3 * rnd.nextGaussian());
            beta[c] = (float) (0.3 * rnd.nextGaussian());
        }
        int groups = cin % 5 == 0 ? 5 : cin % 4 == 0 ? 4 : cin % 2 == 0 ? 2 : 1;
        return switch (kind) {
            case "norm" -> ConvInput.normalized(x, ChannelsLast.groupNormAffine(x, pixels, cin, groups, gamma, beta, 1e-6f), silu);
            case "up" -> ConvInput.upsampled(x, cin);
            default -> ConvInput.of(x, cin);
        };
    }

    private static float bf16(float v) {
        return DType.bf16ToFloat(DType.floatToBf16(v));
    }

    private static void put(DType dt, MemorySegment s, long i, float v) {
        switch (dt) {
            case BF16 -> s.set(I16, i * 2, DType.floatToBf16(v));
            case F16 -> s.set(I16, i * 2, Float.floatToFloat16(v));
            case F32 -> s.set(F32, i * 4, v);
            default -> throw new IllegalArgumentException(dt.toString());
        }
    }
}
