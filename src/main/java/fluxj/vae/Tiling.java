package fluxj.vae;

/**
 * When and how {@link AutoEncoder#decode} splits a latent into overlapping tiles. All sizes are in latent pixels.
 *
 * <p>Decoding tiles when either latent side exceeds {@code tileAbove} (0: never for size alone) or when the untiled
 * decode's activations ({@link AutoEncoder#decodeBytes}) would exceed {@code memoryBudget} bytes.
 *
 * <p>Defaults: 64-pixel tiles (512 image pixels) overlapping by 8 (64 image pixels). Tiles cut only the
 * upsampling levels (see {@link TiledDecoder}); there each 3x3 convolution sees one pixel further at its own
 * resolution, so a tile's zero-padded border reaches 7 pixels into the 2x level (its upsample conv and 3
 * ResNets), 7 into the 4x and 8 into the 8x level: 3.5 + 1.75 + 1 = ~6.3 latent pixels, which the 8-pixel
 * linear ramp covers with weights near zero. A tile's GroupNorm statistics are its own, so bigger tiles stay
 * closer to the untiled result; at 64 a tile's upper levels peak near 1 GB for FLUX's VAE (see
 * {@link AutoEncoder#tileBytes}) and the overlap costs (64/56)^2 = 1.3x the untiled arithmetic on large images.
 */
public record Tiling(int tile, int overlap, int tileAbove, long memoryBudget) {
    public static final int DEFAULT_TILE = 64, DEFAULT_OVERLAP = 8;

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

    /** Always tiles (as soon as the latent is larger than one tile), the trunk on the whole latent. */
    public static Tiling always(int tile, int overlap) { return new Tiling(tile, overlap, 1, Long.MAX_VALUE); }

    /** Whether an h x w latent whose untiled decode needs {@code untiledBytes} is decoded in tiles. */
    public boolean applies(int h, int w, long untiledBytes) {
        if (h <= tile && w <= tile) return false;
        return (tileAbove > 0 && Math.max(h, w) > tileAbove) || untiledBytes > memoryBudget;
    }
}
