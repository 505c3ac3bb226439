package fluxj.tensor.onednn;

import fluxj.tensor.DType;
import fluxj.tensor.Epilogue;
import fluxj.tensor.Matmul;
import fluxj.tensor.MatmulKernel;
import fluxj.tensor.Tensor;
import fluxj.testing.OneDnn;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * oneDNN's bf16 matmul against (a) a double-precision reference of exactly what it should compute (activations
 * rounded to bf16, weights widened to bf16, products summed) and (b) the pure-Java f32 path. Sizes are odd so
 * every vector tail runs.
 */
class OneDnnMatmulTest {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @BeforeEach
    void needsOneDnn() {
        OneDnn.require("oneDNN path");
    }

    // The memory plan counts a product's buffers by an upper bound: the bf16 input, an f32 row tile and the bias, plus a
    // block of narrowed weight, which weights used in place (BF16) do not need; narrowed ones (here F32, with a bias)
    // fill it exactly.
    @Test
    void buffersHeldAreWithinWhatThePlanCounts() {
        int m = 37, k = 100, n = 70;
        long planned = new OneDnnMatmul(Matmul.kernel()).bufferBytes(m, k, n);
        try (Arena arena = Arena.ofShared()) {
            NativeBuffer.releaseAll();
            Tensor inPlace = new Tensor("w", DType.BF16, new long[] {n, k}, arena.allocate(2L * n * k), 1f, "test");
            OneDnnMatmul.bf16(new float[m * k], m, k, inPlace, null, new float[m * n]);
            assertEquals(2L * m * k + 4L * m * n, NativeBuffer.heldBytes(), "bf16 input and f32 output");
            assertTrue(NativeBuffer.heldBytes() <= planned, "within the plan");
            NativeBuffer.releaseAll();
            Tensor narrowed = new Tensor("w", DType.F32, new long[] {n, k}, arena.allocate(4L * n * k), 1f, "test");
            OneDnnMatmul.bf16(new float[m * k], m, k, narrowed, new float[n], new float[m * n]);
            assertEquals(planned, NativeBuffer.heldBytes(), "with the narrowed weight block and the bias");
        }
    }

    @Test
    void bf16WeightsInPlace() {
        check(DType.BF16, 37, 100, 70, 1f, true, 0);
    }

    @Test
    void bf16WeightsAtAnOddAddress() {
        // Mapped safetensors data is only 2-byte aligned.
        check(DType.BF16, 5, 64, 33, 1f, true, 2);
    }

    @Test
    void bf16WeightsOnTheHeapAreCopied() {
        check(DType.BF16, 9, 48, 20, 1f, false, 0);
    }

    @Test
    void scaledFp8Weights() {
        check(DType.F8_E4M3, 19, 80, 41, 0.37f, true, 0);
    }

    @Test
    void fp8E5m2AndF16AndF32Weights() {
        check(DType.F8_E5M2, 4, 40, 12, 1f, true, 0);
        check(DType.F16, 7, 52, 17, 1f, true, 0);
        check(DType.F32, 3, 75, 9, 1f, true, 0);
    }

    @Test
    void manyRowsGoInSeveralWeightBlocks() {
        // 10300 x 4096 narrowed to bf16 is 84 MB: over the 80 MB block, so two blocks of 5150 rows.
        check(DType.F8_E4M3, 2, 4096, 10300, 1f, true, 0);
    }

    @Test
    void manyRowsGoInSeveralTiles() {
        check(DType.BF16, 2049, 8, 24, 1f, true, 0);
        check(DType.F8_E4M3, 1025, 4, 2049, 2f, true, 0);
    }

    // The benches' split of a phase into oneDNN's time and the engine's: every product and attention product counts
    // its arithmetic once (2049 rows go in two row tiles, attention's two products per head) and some time.
    @Test
    void timeInsideOneDnnCountsEveryPrimitivesArithmetic() {
        OneDnnTime.Span before = OneDnnTime.mark();
        check(DType.BF16, 2049, 8, 24, 1f, true, 0);
        OneDnnTime.Span products = OneDnnTime.mark().since(before);
        assertEquals(2L * 2049 * 8 * 24, products.flops());
        assertTrue(products.nanos() > 0);

        int l = 70, heads = 3, d = 16;
        float[] q = new float[l * heads * d], out = new float[q.length];
        before = OneDnnTime.mark();
        OneDnnAttention.attention(q, q, q, l, l, heads, d, 0.25f, out);
        assertEquals(2 * 2L * heads * l * l * d, OneDnnTime.mark().since(before).flops());
    }

    @Test
    void emptyInnerDimensionGivesTheBias() {
        check(DType.BF16, 3, 0, 5, 1f, true, 0);
    }

    @Test
    void oneRowNoBias() {
        check(DType.BF16, 1, 300, 50, 1f, true, 0, false);
    }

    @Test
    void fewRowsOfNarrowedWeightsGoToTheJavaKernel() {
        int[] calls = {0};
        MatmulKernel java = new MatmulKernel() {
            @Override public String name() { return "recording"; }
            @Override public void matmul(float[] x, int m, int k, Tensor w, float[] bias, float[] y) { calls[0]++; }
        };
        OneDnnMatmul kernel = new OneDnnMatmul(java);
        try (Arena arena = Arena.ofShared()) {
            Tensor fp8 = new Tensor("w", DType.F8_E4M3, new long[] {8, 16}, arena.allocate(8 * 16), "test");
            Tensor bf16 = new Tensor("w", DType.BF16, new long[] {8, 16}, arena.allocate(8 * 16 * 2), "test");
            kernel.matmul(new float[63 * 16], 63, 16, fp8, null, new float[63 * 8]);
            assertEquals(1, calls[0], "63 rows of FP8 weights: the Java kernel");
            kernel.matmul(new float[64 * 16], 64, 16, fp8, null, new float[64 * 8]);
            kernel.matmul(new float[16], 1, 16, bf16, null, new float[8]);
            assertEquals(1, calls[0], "64 rows of FP8, or BF16 weights at any size: oneDNN");
        }
    }

    @Test
    void severalWeightsGiveExactlyTheSingleProducts() {
        // One bf16 copy of x serves every weight: the same primitives, so the same bits as one call per weight.
        // With 63 rows the FP8 weight goes to the Java kernel and the BF16 ones to oneDNN, in one call.
        Random rnd = new Random(9);
        for (int m : new int[] {63, 70}) {
            int k = 48;
            float[] x = new float[m * k];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            try (Arena arena = Arena.ofShared()) {
                Tensor[] w = {weights(arena, DType.BF16, 20, k, rnd), weights(arena, DType.F8_E4M3, 9, k, rnd), weights(arena, DType.BF16, 3, k, rnd)};
                float[][] bias = {new float[20], null, new float[3]};
                float[][] y = {new float[m * 20], new float[m * 9], new float[m * 3]};
                OneDnnMatmul kernel = new OneDnnMatmul(Matmul.kernel());
                kernel.matmul(x, m, k, w, bias, y);
                for (int i = 0; i < w.length; i++) {
                    float[] single = new float[m * w[i].rows()];
                    kernel.matmul(x, m, k, w[i], bias[i], single);
                    assertArrayEquals(single, y[i], m + " rows, weight " + i);
                }
            }
        }
    }

    @Test
    void geluEpilogueMatchesTheProductThenJavasGelu() {
        // BF16 in place: bias and GELU inside oneDNN's kernel; scaled FP8: scale and bias on the copy out, GELU in Java
        // after it; 5 rows of FP8: the Java kernel, then GELU. Each against the same call without the epilogue followed
        // by the Java GELU: the products are the same, so what differs is oneDNN's GELU against ours, both f32
        // evaluations of the same formula (a few ulp, here bounded by 2^-18 relative plus 2^-22).
        Random rnd = new Random(5);
        int k = 96;
        for (Object[] c : new Object[][] {{DType.BF16, 70, 1f}, {DType.F8_E4M3, 70, 0.4f}, {DType.F8_E4M3, 5, 1f}}) {
            DType dt = (DType) c[0];
            int m = (int) c[1], n = 40;
            float[] x = new float[m * k];
            for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * 3);
            float[] bias = new float[n];
            for (int i = 0; i < n; i++) bias[i] = (float) rnd.nextGaussian();
            try (Arena arena = Arena.ofShared()) {
                Tensor w0 = weights(arena, dt, n, k, rnd);
                Tensor w = new Tensor("w", dt, w0.shape(), w0.data(), (float) c[2], "test");
                OneDnnMatmul kernel = new OneDnnMatmul(Matmul.kernel());
                float[][] fused = {new float[m * n]}, plain = {new float[m * n]};
                kernel.matmul(x, m, k, new Tensor[] {w}, new float[][] {bias}, new Epilogue[] {Epilogue.GELU_TANH}, fused);
                kernel.matmul(x, m, k, new Tensor[] {w}, new float[][] {bias}, plain);
                Epilogue.GELU_TANH.apply(plain[0], m, n);
                for (int i = 0; i < m * n; i++) {
                    assertEquals(plain[0][i], fused[0][i], 0x1p-18 * Math.abs(plain[0][i]) + 0x1p-22, dt + " m=" + m + " y[" + i + "]");
                }
            }
        }
    }

    private static Tensor weights(Arena arena, DType dt, int n, int k, Random rnd) {
        MemorySegment data = arena.allocate((long) n * k * dt.byteSize());
        for (long i = 0; i < (long) n * k; i++) put(dt, data, i, (float) (rnd.nextGaussian() * 0.1));
        return new Tensor("w", dt, new long[] {n, k}, data, "test");
    }

    private static void check(DType dt, int m, int k, int n, float scale, boolean nativeWeights, int offset) {
        check(dt, m, k, n, scale, nativeWeights, offset, true);
    }

    private static void check(DType dt, int m, int k, int n, float scale, boolean nativeWeights, int offset, boolean withBias) {
        Random rnd = new Random(m * 31L + k * 7L + n);
        float[] x = new float[m * k];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        float[] bias = withBias ? new float[n] : null;
        if (bias != null) for (int i = 0; i < n; i++) bias[i] = (float) rnd.nextGaussian();
        try (Arena arena = Arena.ofShared()) {
            long bytes = (long) n * k * dt.byteSize();
            MemorySegment data = nativeWeights ? arena.allocate(bytes + offset).asSlice(offset) : MemorySegment.ofArray(new byte[(int) bytes]);
            for (long i = 0; i < (long) n * k; i++) put(dt, data, i, (float) (rnd.nextGaussian() * 0.1));
            Tensor w = new Tensor("w", dt, new long[] {n, k}, data, scale, "test");

            float[] y = new float[m * n];
            OneDnnMatmul.bf16(x, m, k, w, bias, y);
            float[] java = Matmul.matmul(x, m, k, w, bias);

            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double exact = 0, absSum = 0, sq = 0;
                    for (int c = 0; c < k; c++) {
                        double wv = DType.bf16ToFloat(DType.floatToBf16(dt.get(data, (long) j * k + c)));
                        double p = DType.bf16ToFloat(DType.floatToBf16(x[i * k + c])) * wv;
                        exact += p;
                        absSum += Math.abs(p);
                        double pf = (double) x[i * k + c] * dt.get(data, (long) j * k + c);
                        sq += pf * pf;
                    }
                    double b = bias == null ? 0 : bias[j];
                    exact = exact * scale + b;
                    float got = y[i * n + j];
                    // (a) f32 accumulation of k exact bf16 products: at most k * 2^-24 of the absolute sum (worst case),
                    // plus one rounding each for the scale and the bias.
                    double accTol = (k * 0x1p-24 * absSum) * scale + 0x1p-22 * (Math.abs(exact) + Math.abs(b));
                    assertEquals(exact, got, accTol, dt + " y[" + i + "," + j + "] against the bf16 reference");
                    // (b) Rounding activations (and non-bf16 weights) to bf16 moves each product by a relative error
                    // of up to 2^-8 (two roundings: 2^-7), independent and of random sign, so the sum moves by about
                    // 2^-7 * sqrt(sum of squared products) / sqrt(3); 6 such deviations never happen by chance here.
                    double walkTol = 6 * 0x1p-7 * Math.sqrt(sq / 3) * scale + accTol;
                    assertEquals(java[i * n + j], got, walkTol, dt + " y[" + i + "," + j + "] against the Java f32 path");
                }
            }
        }
    }

    private static void put(DType dt, MemorySegment s, long i, float v) {
        switch (dt) {
            case BF16 -> s.set(I16, i * 2, DType.floatToBf16(v));
            case F16 -> s.set(I16, i * 2, Float.floatToFloat16(v));
            case F32 -> s.set(F32, i * 4, v);
            case F8_E4M3 -> s.set(ValueLayout.JAVA_BYTE, i, DType.floatToFp8E4M3(v * 20));
            case F8_E5M2 -> s.set(ValueLayout.JAVA_BYTE, i, (byte) (Float.floatToFloat16(v) >> 8));
            default -> throw new IllegalArgumentException(dt.toString());
        }
    }
}
