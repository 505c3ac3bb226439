package fluxj.memory;

import fluxj.flux.FluxTransformer;
import fluxj.io.Checkpoint;
import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Streaming the blocks through memory must not change the velocity. */
class StreamingTransformerTest {
    @Test
    void streamedForwardEqualsResidentForwardAndVisitsBlocksInOrder() throws IOException {
        Path dir = Fixtures.caseDir("p02_schnell_single_bf16");
        float[] img = Npy.read(dir.resolve("noise_packed.npy")).floats();
        float[] txt = Npy.read(dir.resolve("t5_emb.npy")).floats();
        float[] vec = Npy.read(dir.resolve("clip_pooled.npy")).floats();
        int imgLen = 16, txtLen = txt.length / 64;
        float[] imgIds = new float[imgLen * 3];
        for (int r = 0; r < 4; r++) for (int c = 0; c < 4; c++) { imgIds[(r * 4 + c) * 3 + 1] = r; imgIds[(r * 4 + c) * 3 + 2] = c; }
        float[] txtIds = new float[txtLen * 3];
        try (Checkpoint ck = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell.safetensors"))) {
            FluxTransformer t = FluxTransformer.load(ck, null);
            float[] resident = t.forward(img, imgLen, imgIds, txt, txtLen, txtIds, 1f, vec, 0f);
            BlockLayout layout = BlockLayout.of(ck);
            List<String> visits = new ArrayList<>();
            try (BlockStreamer s = new BlockStreamer(layout.segments(), 2)) {
                t.setBlockHook(new BlockHook() {
                    @Override public void before(int b) { visits.add("+" + layout.names().get(b)); s.before(b); }
                    @Override public void after(int b) { s.after(b); visits.add("-" + layout.names().get(b)); }
                });
                float[] streamed = t.forward(img, imgLen, imgIds, txt, txtLen, txtIds, 1f, vec, 0f);
                // Paging cannot change a value; only the JIT may (an interpreted first call and compiled later
                // calls can round exp and lane sums differently in the last bits), hence not bit equality.
                assertArrayEquals(resident, streamed, 1e-5f);
            }
            assertEquals(List.of("+double_blocks.0", "-double_blocks.0", "+single_blocks.0", "-single_blocks.0",
                    "+single_blocks.1", "-single_blocks.1"), visits);
        }
    }
}
