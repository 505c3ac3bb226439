package fluxj.vae;

/**
 * When and how {@link AutoEncoder#decode} splits a latent into overlapping tiles. All sizes are in latent pixels.
 *
 * <p>Decoding tiles when either latent side exceeds {@code tileAbove} (0: never for size alone) or when the untiled
 * decode's activations ({@link AutoEncoder#decodeBytes}) would exceed {@code memoryBudget} bytes.
 *
 * <p>Defaults: 64-pixel tiles (512 image pixels) overlapping by 16 (128 image pixels, 25% as diffusers does).
 * Each decoder 3x3 convolution sees one pixel further at its own resolution, so a tile's zero-padded border
 * corrupts about 11 latent pixels (conv_in, the 4 mid convolutions and the 6 of the lowest level) plus 3.5, 1.75
 * and 1 at the 2x, 4x and 8x levels: ~17 latent pixels, most of it faint. A 16-pixel linear ramp gives those
 * border pixels weights near zero where a neighbour covers them. A tile's GroupNorm statistics and its
 * attention see only the tile, so bigger tiles stay closer to the untiled result; 64 keeps a tile's peak
 * activations near 1 GB for FLUX's VAE (see {@link AutoEncoder#tileBytes}) while costing (64/48)^2 = 1.8x
 * the untiled arithmetic on large images.
 */
public record Tiling(int tile, int overlap, int tileAbove, long memoryBudget) {
    public static final int DEFAULT_TILE = 64, DEFAULT_OVERLAP = 16;

    public Tiling {
        if (tile < 1 || overlap < 0 || overlap >= tile) throw new IllegalArgumentException("tiling: tile " + tile + " with overlap " + overlap + " (need 0 <= overlap < tile)");
        if (tileAbove < 0 || memoryBudget < 0) throw new IllegalArgumentException("tiling: negative threshold");
    }

    /** Default tiles, used only when the untiled decode would need more than half the maximum heap. */
    public static Tiling defaults() {
        return new Tiling(DEFAULT_TILE, DEFAULT_OVERLAP, 0, Runtime.getRuntime().maxMemory() / 2);
    }

    /** Never tiles. */
    public static Tiling off() { return new Tiling(DEFAULT_TILE, DEFAULT_OVERLAP, 0, Long.MAX_VALUE); }

    /** Always tiles (as soon as the latent is larger than one tile). */
    public static Tiling always(int tile, int overlap) { return new Tiling(tile, overlap, 1, Long.MAX_VALUE); }

    /** Whether an h x w latent whose untiled decode needs {@code untiledBytes} is decoded in tiles. */
    public boolean applies(int h, int w, long untiledBytes) {
        if (h <= tile && w <= tile) return false;
        return (tileAbove > 0 && Math.max(h, w) > tileAbove) || untiledBytes > memoryBudget;
    }
}
