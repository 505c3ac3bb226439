package fluxj.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The pure-Java matmul backend: GotoBLAS-style cache blocking around a register-blocked microkernel of 6 rows x
 * 4 vectors (2 vectors without AVX-512).
 *
 * <p>Weight panels of NR columns (64 with AVX-512) by {@link #KC} depth are widened from the stored dtype straight
 * into a packed, k-major buffer (the only place weights are widened, once per call, never a full-size f32 copy);
 * activation rows are read in place. Work is split over output column
 * blocks (and row blocks when there are too few of those), each thread packing its own panels. Up to
 * {@value #SMALL_M} input rows (e.g. modulation vectors, GEMV) take a row-dot path instead, which needs no packing.
 */
final class VectorMatmul implements MatmulKernel {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    /** 6 rows x 4 vectors with 32 vector registers (AVX-512), 6 x 2 with 16 (AVX2). */
    static final int MR = 6, NR_VECTORS = L >= 16 ? 4 : 2, NR = NR_VECTORS * L;
    /** Depth of a packed panel: 6 A rows x KC stay in L1 while a block of panels (PANELS x NR x KC) sits in L2. */
    static final int KC = 384;
    /** Panels per column block: 256 columns, 4 panels with AVX-512. */
    static final int PANELS = Math.max(1, 256 / NR);
    /** Up to this many rows the row-dot path beats packing panels (measured: 1.8x at 8 rows, even at ~80). */
    static final int SMALL_M = 64;
    private static final int DOT_KB = 1024;

    @Override
    public String name() { return "java-vector " + MR + "x" + NR + " (" + F + ")"; }

    @Override
    public void matmul(float[] x, int m, int k, Tensor w, float[] bias, float[] y) {
        if (m <= SMALL_M) rowDot(x, m, k, w, bias, y);
        else blocked(x, m, k, w, bias, y);
    }

    private static void blocked(float[] x, int m, int k, Tensor w, float[] bias, float[] y) {
        int n = w.rows(), threads = Parallel.threads();
        int panels = (n + NR - 1) / NR;
        int colBlocks = (panels + PANELS - 1) / PANELS;
        int rowBlocks = 1;
        if (colBlocks < 3 * threads) {
            rowBlocks = Math.max(1, Math.min((m + 8 * MR - 1) / (8 * MR), (3 * threads + colBlocks - 1) / colBlocks));
        }
        int rowsPerBlock = ((m + rowBlocks - 1) / rowBlocks + MR - 1) / MR * MR;
        int blocks = colBlocks;
        Parallel.forEach(colBlocks * rowBlocks, t -> {
            int i0 = (t / blocks) * rowsPerBlock, i1 = Math.min(m, i0 + rowsPerBlock);
            if (i0 < i1) block(x, k, w, bias, y, (t % blocks) * PANELS, Math.min(panels, (t % blocks + 1) * PANELS), i0, i1);
        });
    }

    /** Output rows [i0, i1) x panels [p0, p1): packs each KC-deep slice of the panels, then sweeps the rows. */
    private static void block(float[] x, int k, Tensor w, float[] bias, float[] y, int p0, int p1, int i0, int i1) {
        int n = w.rows(), depth = depth(w.dtype());
        float[] packed = new float[(p1 - p0) * NR * Math.min(k, depth)];
        float[] tmp = new float[w.dtype().isBlock() ? NR * Math.min(k, depth) : NR * L];
        float[] aTail = new float[MR * Math.min(k, depth)];
        float[] cTile = new float[MR * NR];
        float[] biasTile = new float[NR];
        for (int pc = 0; pc < k; pc += depth) {
            int kc = Math.min(depth, k - pc);
            for (int p = p0; p < p1; p++) pack(w, k, p * NR, pc, kc, tmp, packed, (p - p0) * NR * kc);
            boolean first = pc == 0;
            for (int i = i0; i < i1; i += MR) {
                int mr = Math.min(MR, i1 - i);
                float[] a = x;
                int ao = i * k + pc, lda = k;
                if (mr < MR) {
                    Arrays.fill(aTail, 0f);
                    for (int r = 0; r < mr; r++) System.arraycopy(x, (i + r) * k + pc, aTail, r * kc, kc);
                    a = aTail; ao = 0; lda = kc;
                }
                for (int p = p0; p < p1; p++) {
                    int j = p * NR, nr = Math.min(NR, n - j), bo = (p - p0) * NR * kc;
                    if (mr == MR && nr == NR) {
                        kernel(a, ao, lda, packed, bo, kc, y, i * n + j, n, !first, first ? bias : null, j);
                        continue;
                    }
                    // Ragged edge: run the full-size kernel on a padded tile and copy the valid part.
                    float[] init = null;
                    if (first && bias != null) {
                        Arrays.fill(biasTile, 0f);
                        System.arraycopy(bias, j, biasTile, 0, nr);
                        init = biasTile;
                    }
                    if (!first) for (int r = 0; r < mr; r++) System.arraycopy(y, (i + r) * n + j, cTile, r * NR, nr);
                    kernel(a, ao, lda, packed, bo, kc, cTile, 0, NR, !first, init, 0);
                    for (int r = 0; r < mr; r++) System.arraycopy(cTile, r * NR, y, (i + r) * n + j, nr);
                }
            }
        }
    }

    /**
     * Widens w[j .. j+NR, pc .. pc+kc] into {@code out[off..]} k-major (NR columns per k); rows past N are zero.
     * L columns of NR weight rows at a time are widened into {@code tmp} (L1-resident) and transposed from there,
     * so the packed panel is written sequentially.
     */
    private static void pack(Tensor w, int k, int j, int pc, int kc, float[] tmp, float[] out, int off) {
        int rows = Math.min(NR, w.rows() - j);
        DType dt = w.dtype();
        if (dt.isBlock()) {
            packBlocks(w, k, j, rows, pc, kc, tmp, out, off);
            return;
        }
        MemorySegment seg = w.data();
        float s = w.scale();
        if (rows < NR) Arrays.fill(tmp, 0f);
        int p = 0;
        if (Widen.vectorised(dt)) {
            for (int up = kc - kc % L; p < up; p += L) {
                Widen.tile(dt, seg, (long) j * k + pc + p, k, rows, s, tmp);
                for (int q = 0; q < L; q++) {
                    int o = off + (p + q) * NR;
                    for (int c = 0; c < NR; c++) out[o + c] = tmp[c * L + q];
                }
            }
        }
        for (; p < kc; p++) {
            int o = off + p * NR;
            for (int c = 0; c < NR; c++) out[o + c] = c < rows ? dt.get(seg, (long) (j + c) * k + pc + p) * s : 0f;
        }
    }

    /**
     * Panel depth: {@link #KC}, or for block-quantized weights the nearest whole number of blocks, so every block is
     * decoded once per panel (512 for 256-value blocks).
     */
    static int depth(DType dt) {
        int bv = dt.blockValues();
        return Math.max(bv, Math.round((float) KC / bv) * bv);
    }

    /**
     * Block-quantized weights: each of the panel's rows decodes its kc values (whole blocks) into {@code tmp}, which
     * is then transposed k-major into the panel.
     */
    private static void packBlocks(Tensor w, int k, int j, int rows, int pc, int kc, float[] tmp, float[] out, int off) {
        for (int c = 0; c < rows; c++) Widen.span(w, (long) (j + c) * k + pc, kc, tmp, c * kc);
        for (int p = 0; p < kc; p++) {
            int o = off + p * NR;
            for (int c = 0; c < rows; c++) out[o + c] = tmp[c * kc + p];
            for (int c = rows; c < NR; c++) out[o + c] = 0f;
        }
    }

    /**
     * The register-blocked microkernel: {@code C[6, NR] = (C, or the init row, or 0) + A[6, kc] * B[kc, NR]}; A rows
     * at stride lda, B packed k-major (NR per k), C rows at stride ldc. Constant row and vector counts let C2 keep
     * every accumulator in a register; the branch on the static final vector count folds away.
     */
    static void kernel(float[] a, int ao, int lda, float[] b, int bo, int kc,
                       float[] c, int co, int ldc, boolean load, float[] init, int io) {
        if (NR_VECTORS == 4) kernel6x4(a, ao, lda, b, bo, kc, c, co, ldc, load, init, io);
        else kernel6x2(a, ao, lda, b, bo, kc, c, co, ldc, load, init, io);
    }

    /** 24 accumulators, 4 B vectors and a broadcast: fits the 32 registers of AVX-512. */
    private static void kernel6x4(float[] a, int ao, int lda, float[] b, int bo, int kc,
            float[] c, int co, int ldc, boolean load, float[] init, int io) {
        FloatVector c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33, c40, c41, c42, c43, c50, c51, c52, c53;
        if (load) {
            c00 = FloatVector.fromArray(F, c, co + 0 * ldc + 0 * L); c01 = FloatVector.fromArray(F, c, co + 0 * ldc + 1 * L); c02 = FloatVector.fromArray(F, c, co + 0 * ldc + 2 * L); c03 = FloatVector.fromArray(F, c, co + 0 * ldc + 3 * L);
            c10 = FloatVector.fromArray(F, c, co + 1 * ldc + 0 * L); c11 = FloatVector.fromArray(F, c, co + 1 * ldc + 1 * L); c12 = FloatVector.fromArray(F, c, co + 1 * ldc + 2 * L); c13 = FloatVector.fromArray(F, c, co + 1 * ldc + 3 * L);
            c20 = FloatVector.fromArray(F, c, co + 2 * ldc + 0 * L); c21 = FloatVector.fromArray(F, c, co + 2 * ldc + 1 * L); c22 = FloatVector.fromArray(F, c, co + 2 * ldc + 2 * L); c23 = FloatVector.fromArray(F, c, co + 2 * ldc + 3 * L);
            c30 = FloatVector.fromArray(F, c, co + 3 * ldc + 0 * L); c31 = FloatVector.fromArray(F, c, co + 3 * ldc + 1 * L); c32 = FloatVector.fromArray(F, c, co + 3 * ldc + 2 * L); c33 = FloatVector.fromArray(F, c, co + 3 * ldc + 3 * L);
            c40 = FloatVector.fromArray(F, c, co + 4 * ldc + 0 * L); c41 = FloatVector.fromArray(F, c, co + 4 * ldc + 1 * L); c42 = FloatVector.fromArray(F, c, co + 4 * ldc + 2 * L); c43 = FloatVector.fromArray(F, c, co + 4 * ldc + 3 * L);
            c50 = FloatVector.fromArray(F, c, co + 5 * ldc + 0 * L); c51 = FloatVector.fromArray(F, c, co + 5 * ldc + 1 * L); c52 = FloatVector.fromArray(F, c, co + 5 * ldc + 2 * L); c53 = FloatVector.fromArray(F, c, co + 5 * ldc + 3 * L);
        } else {
            FloatVector i0 = init == null ? FloatVector.zero(F) : FloatVector.fromArray(F, init, io + 0 * L); FloatVector i1 = init == null ? FloatVector.zero(F) : FloatVector.fromArray(F, init, io + 1 * L); FloatVector i2 = init == null ? FloatVector.zero(F) : FloatVector.fromArray(F, init, io + 2 * L); FloatVector i3 = init == null ? FloatVector.zero(F) : FloatVector.fromArray(F, init, io + 3 * L);
            c00 = i0; c01 = i1; c02 = i2; c03 = i3;
            c10 = i0; c11 = i1; c12 = i2; c13 = i3;
            c20 = i0; c21 = i1; c22 = i2; c23 = i3;
            c30 = i0; c31 = i1; c32 = i2; c33 = i3;
            c40 = i0; c41 = i1; c42 = i2; c43 = i3;
            c50 = i0; c51 = i1; c52 = i2; c53 = i3;
        }
        for (int p = 0; p < kc; p++) {
            int bp = bo + p * NR;
            FloatVector b0 = FloatVector.fromArray(F, b, bp + 0 * L); FloatVector b1 = FloatVector.fromArray(F, b, bp + 1 * L); FloatVector b2 = FloatVector.fromArray(F, b, bp + 2 * L); FloatVector b3 = FloatVector.fromArray(F, b, bp + 3 * L);
            FloatVector av;
            av = FloatVector.broadcast(F, a[ao + p]);
            c00 = b0.fma(av, c00); c01 = b1.fma(av, c01); c02 = b2.fma(av, c02); c03 = b3.fma(av, c03);
            av = FloatVector.broadcast(F, a[ao + 1 * lda + p]);
            c10 = b0.fma(av, c10); c11 = b1.fma(av, c11); c12 = b2.fma(av, c12); c13 = b3.fma(av, c13);
            av = FloatVector.broadcast(F, a[ao + 2 * lda + p]);
            c20 = b0.fma(av, c20); c21 = b1.fma(av, c21); c22 = b2.fma(av, c22); c23 = b3.fma(av, c23);
            av = FloatVector.broadcast(F, a[ao + 3 * lda + p]);
            c30 = b0.fma(av, c30); c31 = b1.fma(av, c31); c32 = b2.fma(av, c32); c33 = b3.fma(av, c33);
            av = FloatVector.broadcast(F, a[ao + 4 * lda + p]);
            c40 = b0.fma(av, c40); c41 = b1.fma(av, c41); c42 = b2.fma(av, c42); c43 = b3.fma(av, c43);
            av = FloatVector.broadcast(F, a[ao + 5 * lda + p]);
            c50 = b0.fma(av, c50); c51 = b1.fma(av, c51); c52 = b2.fma(av, c52); c53 = b3.fma(av, c53);
        }
        c00.intoArray(c, co + 0 * ldc + 0 * L); c01.intoArray(c, co + 0 * ldc + 1 * L); c02.intoArray(c, co + 0 * ldc + 2 * L); c03.intoArray(c, co + 0 * ldc + 3 * L);
        c10.intoArray(c, co + 1 * ldc + 0 * L); c11.intoArray(c, co + 1 * ldc + 1 * L); c12.intoArray(c, co + 1 * ldc + 2 * L); c13.intoArray(c, co + 1 * ldc + 3 * L);
        c20.intoArray(c, co + 2 * ldc + 0 * L); c21.intoArray(c, co + 2 * ldc + 1 * L); c22.intoArray(c, co + 2 * ldc + 2 * L); c23.intoArray(c, co + 2 * ldc + 3 * L);
        c30.intoArray(c, co + 3 * ldc + 0 * L); c31.intoArray(c, co + 3 * ldc + 1 * L); c32.intoArray(c, co + 3 * ldc + 2 * L); c33.intoArray(c, co + 3 * ldc + 3 * L);
        c40.intoArray(c, co + 4 * ldc + 0 * L); c41.intoArray(c, co + 4 * ldc + 1 * L); c42.intoArray(c, co + 4 * ldc + 2 * L); c43.intoArray(c, co + 4 * ldc + 3 * L);
        c50.intoArray(c, co + 5 * ldc + 0 * L); c51.intoArray(c, co + 5 * ldc + 1 * L); c52.intoArray(c, co + 5 * ldc + 2 * L); c53.intoArray(c, co + 5 * ldc + 3 * L);
    }

    /** 12 accumulators, 2 B vectors and a broadcast: fits the 16 registers of AVX2. */
    private static void kernel6x2(float[] a, int ao, int lda, float[] b, int bo, int kc,
            float[] c, int co, int ldc, boolean load, float[] init, int io) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        if (load) {
            c00 = FloatVector.fromArray(F, c, co + 0 * ldc + 0 * L); c01 = FloatVector.fromArray(F, c, co + 0 * ldc + 1 * L);
            c10 = FloatVector.fromArray(F, c, co + 1 * ldc + 0 * L); c11 = FloatVector.fromArray(F, c, co + 1 * ldc + 1 * L);
            c20 = FloatVector.fromArray(F, c, co + 2 * ldc + 0 * L); c21 = FloatVector.fromArray(F, c, co + 2 * ldc + 1 * L);
            c30 = FloatVector.fromArray(F, c, co + 3 * ldc + 0 * L); c31 = FloatVector.fromArray(F, c, co + 3 * ldc + 1 * L);
            c40 = FloatVector.fromArray(F, c, co + 4 * ldc + 0 * L); c41 = FloatVector.fromArray(F, c, co + 4 * ldc + 1 * L);
            c50 = FloatVector.fromArray(F, c, co + 5 * ldc + 0 * L); c51 = FloatVector.fromArray(F, c, co + 5 * ldc + 1 * L);
        } else {
            FloatVector i0 = init == null ? FloatVector.zero(F) : FloatVector.fromArray(F, init, io + 0 * L); FloatVector i1 = init == null ? FloatVector.zero(F) : FloatVector.fromArray(F, init, io + 1 * L);
            c00 = i0; c01 = i1;
            c10 = i0; c11 = i1;
            c20 = i0; c21 = i1;
            c30 = i0; c31 = i1;
            c40 = i0; c41 = i1;
            c50 = i0; c51 = i1;
        }
        for (int p = 0; p < kc; p++) {
            int bp = bo + p * NR;
            FloatVector b0 = FloatVector.fromArray(F, b, bp + 0 * L); FloatVector b1 = FloatVector.fromArray(F, b, bp + 1 * L);
            FloatVector av;
            av = FloatVector.broadcast(F, a[ao + p]);
            c00 = b0.fma(av, c00); c01 = b1.fma(av, c01);
            av = FloatVector.broadcast(F, a[ao + 1 * lda + p]);
            c10 = b0.fma(av, c10); c11 = b1.fma(av, c11);
            av = FloatVector.broadcast(F, a[ao + 2 * lda + p]);
            c20 = b0.fma(av, c20); c21 = b1.fma(av, c21);
            av = FloatVector.broadcast(F, a[ao + 3 * lda + p]);
            c30 = b0.fma(av, c30); c31 = b1.fma(av, c31);
            av = FloatVector.broadcast(F, a[ao + 4 * lda + p]);
            c40 = b0.fma(av, c40); c41 = b1.fma(av, c41);
            av = FloatVector.broadcast(F, a[ao + 5 * lda + p]);
            c50 = b0.fma(av, c50); c51 = b1.fma(av, c51);
        }
        c00.intoArray(c, co + 0 * ldc + 0 * L); c01.intoArray(c, co + 0 * ldc + 1 * L);
        c10.intoArray(c, co + 1 * ldc + 0 * L); c11.intoArray(c, co + 1 * ldc + 1 * L);
        c20.intoArray(c, co + 2 * ldc + 0 * L); c21.intoArray(c, co + 2 * ldc + 1 * L);
        c30.intoArray(c, co + 3 * ldc + 0 * L); c31.intoArray(c, co + 3 * ldc + 1 * L);
        c40.intoArray(c, co + 4 * ldc + 0 * L); c41.intoArray(c, co + 4 * ldc + 1 * L);
        c50.intoArray(c, co + 5 * ldc + 0 * L); c51.intoArray(c, co + 5 * ldc + 1 * L);
    }

    /**
     * Few input rows: four weight rows at a time are widened (DOT_KB columns at a time, into L1) and dotted with
     * every input row, four input rows at a time; each weight element is read and widened once, no transpose.
     * Memory-bound for one row (e.g. modulation vectors), and cheaper than packing panels up to a few dozen rows.
     */
    private static void rowDot(float[] x, int m, int k, Tensor w, float[] bias, float[] y) {
        int n = w.rows(), threads = Parallel.threads();
        int rowsPerTask = Math.max(4, ((n + threads * 8 - 1) / (threads * 8) + 3) / 4 * 4);
        Parallel.forEach((n + rowsPerTask - 1) / rowsPerTask, t -> {
            int r0 = t * rowsPerTask, r1 = Math.min(n, r0 + rowsPerTask);
            int kb = Math.min(k, DOT_KB);
            float[] buf = new float[4 * kb];
            float[] acc = new float[4 * m];
            for (int r = r0; r < r1; r += 4) {
                int rr = Math.min(4, r1 - r);
                Arrays.fill(acc, 0f);
                if (rr < 4) Arrays.fill(buf, 0f);
                for (int c = 0; c < k; c += kb) {
                    int kl = Math.min(kb, k - c);
                    for (int q = 0; q < rr; q++) Widen.span(w, (long) (r + q) * k + c, kl, buf, q * kb);
                    int i = 0;
                    for (; i + 4 <= m; i += 4) dot4x4(x, i * k + c, k, buf, kb, kl, acc, 4 * i);
                    for (; i < m; i++) dot4(x, i * k + c, buf, kb, kl, acc, 4 * i);
                }
                for (int i = 0; i < m; i++) {
                    for (int q = 0; q < rr; q++) y[i * n + r + q] = acc[4 * i + q] + (bias == null ? 0f : bias[r + q]);
                }
            }
        });
    }

    /** acc[ao + 4r + q] += dot(x row r at xo + r*ldx, buf row q) for r, q < 4: 16 accumulators, 8 loads per 16 FMAs. */
    private static void dot4x4(float[] x, int xo, int ldx, float[] buf, int stride, int len, float[] acc, int ao) {
        FloatVector s00 = FloatVector.zero(F), s01 = FloatVector.zero(F), s02 = FloatVector.zero(F), s03 = FloatVector.zero(F), s10 = FloatVector.zero(F), s11 = FloatVector.zero(F), s12 = FloatVector.zero(F), s13 = FloatVector.zero(F), s20 = FloatVector.zero(F), s21 = FloatVector.zero(F), s22 = FloatVector.zero(F), s23 = FloatVector.zero(F), s30 = FloatVector.zero(F), s31 = FloatVector.zero(F), s32 = FloatVector.zero(F), s33 = FloatVector.zero(F);
        int i = 0, up = len - len % L;
        for (; i < up; i += L) {
            FloatVector w0 = FloatVector.fromArray(F, buf, i); FloatVector w1 = FloatVector.fromArray(F, buf, 1 * stride + i); FloatVector w2 = FloatVector.fromArray(F, buf, 2 * stride + i); FloatVector w3 = FloatVector.fromArray(F, buf, 3 * stride + i);
            FloatVector x0 = FloatVector.fromArray(F, x, xo + i);
            s00 = w0.fma(x0, s00); s01 = w1.fma(x0, s01); s02 = w2.fma(x0, s02); s03 = w3.fma(x0, s03);
            FloatVector x1 = FloatVector.fromArray(F, x, xo + 1 * ldx + i);
            s10 = w0.fma(x1, s10); s11 = w1.fma(x1, s11); s12 = w2.fma(x1, s12); s13 = w3.fma(x1, s13);
            FloatVector x2 = FloatVector.fromArray(F, x, xo + 2 * ldx + i);
            s20 = w0.fma(x2, s20); s21 = w1.fma(x2, s21); s22 = w2.fma(x2, s22); s23 = w3.fma(x2, s23);
            FloatVector x3 = FloatVector.fromArray(F, x, xo + 3 * ldx + i);
            s30 = w0.fma(x3, s30); s31 = w1.fma(x3, s31); s32 = w2.fma(x3, s32); s33 = w3.fma(x3, s33);
        }
        acc[ao + 0] += VectorMath.sum(s00); acc[ao + 1] += VectorMath.sum(s01); acc[ao + 2] += VectorMath.sum(s02); acc[ao + 3] += VectorMath.sum(s03);
        acc[ao + 4] += VectorMath.sum(s10); acc[ao + 5] += VectorMath.sum(s11); acc[ao + 6] += VectorMath.sum(s12); acc[ao + 7] += VectorMath.sum(s13);
        acc[ao + 8] += VectorMath.sum(s20); acc[ao + 9] += VectorMath.sum(s21); acc[ao + 10] += VectorMath.sum(s22); acc[ao + 11] += VectorMath.sum(s23);
        acc[ao + 12] += VectorMath.sum(s30); acc[ao + 13] += VectorMath.sum(s31); acc[ao + 14] += VectorMath.sum(s32); acc[ao + 15] += VectorMath.sum(s33);
        for (; i < len; i++) {
            for (int r = 0; r < 4; r++) {
                float xv = x[xo + r * ldx + i];
                for (int q = 0; q < 4; q++) acc[ao + 4 * r + q] += xv * buf[q * stride + i];
            }
        }
    }

    /** acc[ao + q] += dot(x[xo .. xo+len], buf[q*stride ..]) for q < 4. */
    private static void dot4(float[] x, int xo, float[] buf, int stride, int len, float[] acc, int ao) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int i = 0, up = len - len % L;
        for (; i < up; i += L) {
            FloatVector xv = FloatVector.fromArray(F, x, xo + i);
            s0 = FloatVector.fromArray(F, buf, i).fma(xv, s0);
            s1 = FloatVector.fromArray(F, buf, stride + i).fma(xv, s1);
            s2 = FloatVector.fromArray(F, buf, 2 * stride + i).fma(xv, s2);
            s3 = FloatVector.fromArray(F, buf, 3 * stride + i).fma(xv, s3);
        }
        float t0 = VectorMath.sum(s0), t1 = VectorMath.sum(s1);
        float t2 = VectorMath.sum(s2), t3 = VectorMath.sum(s3);
        for (; i < len; i++) {
            float xv = x[xo + i];
            t0 += xv * buf[i]; t1 += xv * buf[stride + i]; t2 += xv * buf[2 * stride + i]; t3 += xv * buf[3 * stride + i];
        }
        acc[ao] += t0; acc[ao + 1] += t1; acc[ao + 2] += t2; acc[ao + 3] += t3;
    }
}
