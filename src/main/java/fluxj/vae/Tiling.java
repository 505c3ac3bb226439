package fluxj.vae;

/**
 * When and how {@link AutoEncoder#decode} splits a latent into overlapping tiles. All sizes are in latent pixels.
 *
 * <p>Decoding tiles when either latent side exceeds {@code tileAbove} (0: never for size alone) or when the untiled
 * decode's activations ({@link AutoEncoder#decodeBytes}) would exceed {@code memoryBudget} bytes.
 *
 * <p>Defaults: tiles of at most 72 pixels (576 image pixels) overlapping by 8 (64 image pixels). Tiles cut only the
 * upsampling levels (see {@link TiledDecoder}); there each 3x3 convolution sees one pixel further at its own
 * resolution, so a tile's zero-padded border reaches 7 pixels into the 2x level (its upsample conv and 3
 * ResNets), 7 into the 4x and 8 into the 8x level: 3.5 + 1.75 + 1 = ~6.3 latent pixels, which the 8-pixel
 * linear ramp covers with weights near zero. A tile's GroupNorm statistics are its own, so bigger tiles stay
 * closer to the untiled result. The size trades a tile's memory against the arithmetic the overlaps repeat: a
 * 1024x1024 image (128 latent pixels a side) takes 2x2 tiles of 68 at this default, the upper levels doing 1.13x
 * the untiled arithmetic, where 64-pixel tiles took 3x3 of 48 and 1.27x (measured: 68 s, 85 s with 64-pixel
 * tiles, 69 s untiled in a process of its own). The tiled decode's planned peak ({@link AutoEncoder#tileBytes}) is
 * then 0.9 GB instead of 0.55 (1.0 instead of 0.7 at 1536x1536), still a third of the untiled 2.7 GB (5.9).
 *
 * <p>{@link AutoEncoder#encode} follows the same rule with the untiled encode's activations
 * ({@link AutoEncoder#encodeBytes}) and the image's latent size; it then runs in bands of {@code tile} rows at every
 * level (the overlap is not used: bands read their halos from whole activations and give the untiled latent).
 */
public record Tiling(int tile, int overlap, int tileAbove, long memoryBudget) {
    public static final int DEFAULT_TILE = 72, DEFAULT_OVERLAP = 8;

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
