package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.tensor.Conv2d;
import fluxj.tensor.onednn.NativeBuffer;
import fluxj.testing.Fixtures;
import fluxj.testing.OneDnn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the fixture VAE's decode holds besides its mapped file: weight copies and oneDNN's native buffers. */
class DecodeMemoryTest {
    /**
     * The fixture decoder's F32 convolution weights (ch 32, multipliers 1,2,2,2, 2 ResNets per level, no
     * post_quant_conv): 3x3 ones conv_in 64x16x9 = 9216, conv_out 3x32x9 = 864, mid 4 x 64x64x9 = 147456, level 0
     * 32x64x9 + 5 x 32x32x9 = 64512, levels 1-3 each 7 x 64x64x9 = 258048 (6 ResNet convs and the upsample conv):
     * 996192 parameters; one 1x1 conv, level 0's nin_shortcut, 32x64 = 2048. The attention's q, k, v, proj_out
     * are matmul weights, used as they are.
     */
    static final long TAPS_PARAMS = 996_192, POINTWISE_PARAMS = 2_048;
    static Checkpoint ck;
    static AutoEncoder ae;

    @BeforeAll
    static void load() throws Exception {
        ck = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/ae.safetensors"));
        ae = AutoEncoder.load(ck, null);
    }

    @AfterAll
    static void close() {
        if (ck != null) ck.close();
    }

    @Test
    void javaPathCopiesEveryWeightLargerThanOneByOneInItsDtype() {
        assertEquals(4 * TAPS_PARAMS, ae.decodeWeightCopyBytes());
        assertEquals(0, ae.plannedDecodeNativeBytes(8, 8));
    }

    @Test
    void oneDnnAlsoPacksEveryWeightToBf16() {
        OneDnn.require("oneDNN decode memory");
        long[] got = new long[1];
        Conv2d.using(Conv2d.oneDnn(), () -> got[0] = ae.decodeWeightCopyBytes());
        assertEquals(4 * TAPS_PARAMS + 2 * (TAPS_PARAMS + POINTWISE_PARAMS), got[0]);
    }

    // An 8x8 latent decodes to 64x64 pixels. The largest source is the level-1 upsample conv's 64 channels at
    // 64x64 in bf16 (2 x 64 x 4096), the largest destination its f32 output (4 x 64 x 4096). Tiled in 4-pixel
    // tiles with the trunk whole, the upper levels run on 4x4 latent tiles, a quarter of each.
    @Test
    void oneDnnBuffersAreTheLargestConvolutionsSourceAndDestination() {
        OneDnn.require("oneDNN decode memory");
        long[] got = new long[2];
        Conv2d.using(Conv2d.oneDnn(), () -> {
            got[0] = ae.withTiling(Tiling.off()).plannedDecodeNativeBytes(8, 8);
            got[1] = ae.withTiling(Tiling.always(4, 1)).plannedDecodeNativeBytes(8, 8);
        });
        assertEquals(2L * 64 * 4096 + 4L * 64 * 4096, got[0]);
        assertEquals(got[0] / 4, got[1]);
    }

    // The buffers a decode leaves are what the plan counts plus small ones (bias, the bf16 staging of one F32
    // weight: 64 x 576 x 2 bytes, +4.7%) where oneDNN keeps activations channels-last (AVX-512); elsewhere its
    // reorders' blocked copies of source and destination can double that, which the plan does not count. So held
    // bytes between the planned figure and 2.1 times it: a missing source or destination, or another conv's sizes,
    // are caught exactly by the test above. After a release nothing is held, and the next decode allocates again
    // and gives the same image (same primitives, same inputs).
    @Test
    void releasedBuffersAreFreedAndRegrowOnTheNextDecode() {
        OneDnn.require("oneDNN buffer release");
        AutoEncoder untiled = ae.withTiling(Tiling.off());
        float[] z = new float[16 * 8 * 8];
        Random r = new Random(7);
        for (int i = 0; i < z.length; i++) z[i] = (float) r.nextGaussian();
        float[][] images = new float[2][];
        long[] held = new long[3];
        // Other tests in this JVM may have grown the matmul and attention buffers: start from none held.
        NativeBuffer.releaseAll();
        Conv2d.using(Conv2d.oneDnn(), () -> {
            long predicted = untiled.plannedDecodeNativeBytes(8, 8);
            images[0] = untiled.decode(z, 8, 8);
            held[0] = NativeBuffer.heldBytes();
            System.getLogger(DecodeMemoryTest.class.getName()).log(System.Logger.Level.INFO,
                    "oneDNN buffers after an 8x8 decode: " + held[0] + " bytes, planned " + predicted);
            assertTrue(held[0] >= predicted && held[0] < predicted * 2.1, "held " + held[0] + " bytes, planned " + predicted);
            NativeBuffer.releaseAll();
            held[1] = NativeBuffer.heldBytes();
            images[1] = untiled.decode(z, 8, 8);
            held[2] = NativeBuffer.heldBytes();
        });
        assertEquals(0, held[1]);
        assertTrue(held[2] > 0);
        assertArrayEquals(images[0], images[1]);
    }

    // The fixture decoder's level-1 upsampling makes 64 channels at full resolution: 64 x 6144^2 = 2.4e9 values for a
    // 768x768 latent, more than a Java array holds. Refused up front with the way out, before any activation exists.
    @Test
    void anUntiledDecodeBeyondJavaArraysIsRefusedClearly() {
        int side = 768;
        float[] z = new float[ae.latentChannels() * side * side];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ae.withTiling(Tiling.off()).decode(z, side, side));
        assertTrue(e.getMessage().contains("6144x6144 image is too large to decode untiled") && e.getMessage().contains("tiles"), e.getMessage());
    }

    // Released weights and their copies go together: closing the checkpoint (what releasing the VAE does) frees the
    // tap-major copies at once, not whenever a collection happens to run.
    @Test
    void closingTheCheckpointFreesTheWeightCopies() throws Exception {
        Checkpoint own = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/ae.safetensors"));
        AutoEncoder vae = AutoEncoder.load(own, null);
        assertEquals(0, vae.heldWeightCopyBytes(), "nothing copied before the first decode");
        vae.decode(new float[16 * 8 * 8], 8, 8);
        assertEquals(4 * TAPS_PARAMS, vae.heldWeightCopyBytes(), "the F32 file's 3x3 weights, tap-major");
        own.close();
        assertEquals(0, vae.heldWeightCopyBytes(), "freed with the checkpoint");
    }
}
