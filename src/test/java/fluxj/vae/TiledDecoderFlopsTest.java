package fluxj.vae;

import fluxj.bench.VaeBench;
import fluxj.io.Checkpoint;
import fluxj.tensor.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The arithmetic a tiled decode performs, against multiply-add counts derived by hand for a small decoder: ch 32,
 * ch_mult 1,2 (f = 2), one ResNet block (+1) per level, 4 latent channels, 3 image channels, on a 12x12 latent.
 * All counts are integers below 2^53, so the sums are exact in double and compared exactly.
 */
class TiledDecoderFlopsTest {
    static final int N = 12;
    /**
     * Multiply-adds per latent pixel of the trunk, at 64 channels: conv_in 9*4*64 = 2304, mid ResNets 2 * 2*9*64*64
     * = 147456, attention projections 4*64*64 = 16384, level 1's two ResNets 2 * 2*9*64*64 = 147456.
     */
    static final long TRUNK_PER_PIXEL = 2304 + 147456 + 16384 + 147456;
    /**
     * Multiply-adds per latent pixel of the upper part, 4 image pixels each: upsample conv 4 * 9*64*64 = 147456;
     * level 0's ResNets 4 * (9*64*32 + 9*32*32 + 64*32 shortcut) = 118784 and 4 * 2*9*32*32 = 73728; conv_out
     * 4 * 9*32*3 = 3456.
     */
    static final long UPPER_PER_PIXEL = 147456 + 118784 + 73728 + 3456;

    static Arena arena;
    static Decoder decoder;
    static AutoEncoder ae;

    @BeforeAll
    static void build() {
        arena = Arena.ofShared();
        VaeConfig c = new VaeConfig(3, 3, 32, new int[]{1, 2}, 1, 4, 32, VaeConfig.FLUX_SCALE, VaeConfig.FLUX_SHIFT);
        Checkpoint ck = VaeBench.randomDecoder(c, DType.F32, arena);
        decoder = new Decoder(ck, c);
        ae = AutoEncoder.load(ck, null);
    }

    @AfterAll
    static void close() {
        if (arena != null) arena.close();
    }

    /** Multiply-adds x 2 of the trunk on an n x n region: per-pixel work plus q k^T and (attention) v, 2 * L^2 * 64. */
    static double trunk(long n) { return 2.0 * (TRUNK_PER_PIXEL * n * n + 2 * 64 * n * n * n * n); }

    static double upper(long n) { return 2.0 * UPPER_PER_PIXEL * n * n; }

    @Test
    void untiledDecodeCountsEveryConvolutionAndTheAttention() {
        assertEquals(trunk(N) + upper(N), ae.decodeFlops(N, N));
        assertEquals(trunk(N) + upper(N), decoder.flops(N, N));
    }

    @Test
    void oneTileCoveringTheLatentPerformsTheUntiledWork() {
        for (boolean wholeTrunk : new boolean[]{true, false}) {
            assertEquals(ae.decodeFlops(N, N), new TiledDecoder(decoder, N, 4, wholeTrunk).flops(N, N), "wholeTrunk " + wholeTrunk);
        }
        assertEquals(ae.decodeFlops(N, N), ae.withTiling(Tiling.always(N, 4)).plannedDecodeFlops(N, N));
    }

    @Test
    void twoByTwoTilesPerformTheSumOverTheirRegions() {
        // Tiles of at most 8 overlapping by 4 on a side of 12: ceil((12-4)/(8-4)) = 2 tiles of ceil((12+4)/2) = 8,
        // at 0 and 4, so four 8x8 regions.
        TiledDecoder whole = new TiledDecoder(decoder, 8, 4, true), all = new TiledDecoder(decoder, 8, 4, false);
        assertEquals(8, whole.span(N));
        assertArrayEquals(new int[]{0, 4}, whole.starts(N));
        double wholeTrunk = trunk(N) + 4 * upper(8), tiledTrunk = 4 * (trunk(8) + upper(8));
        assertEquals(wholeTrunk, whole.flops(N, N));
        assertEquals(tiledTrunk, all.flops(N, N));
        // The autoencoder's plan (no memory limit) keeps the trunk whole.
        assertEquals(wholeTrunk, ae.withTiling(Tiling.always(8, 4)).plannedDecodeFlops(N, N));
        assertTrue(wholeTrunk > ae.decodeFlops(N, N) && tiledTrunk > ae.decodeFlops(N, N));
    }
}
