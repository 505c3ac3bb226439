package fluxj.memory;

import fluxj.io.Checkpoint;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.*;

class BlockLayoutTest {
    @Test
    void bflAndDiffusersLayoutsGiveTheSameBlocksInExecutionOrder() throws IOException {
        try (Checkpoint bfl = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell.safetensors"));
             Checkpoint diff = Checkpoint.open(Fixtures.model("flux1-tiny-schnell/transformer"))) {
            BlockLayout a = BlockLayout.of(bfl), b = BlockLayout.of(diff);
            assertEquals(java.util.List.of("double_blocks.0", "single_blocks.0", "single_blocks.1"), a.names());
            assertEquals(java.util.List.of("transformer_blocks.0", "single_transformer_blocks.0", "single_transformer_blocks.1"), b.names());
            for (int i = 0; i < 3; i++) assertEquals(a.blockBytes(i), b.blockBytes(i), "block " + i);
            assertEquals(Sizing.tensorBytes(bfl), a.otherBytes() + a.blockBytes(0) + a.blockBytes(1) + a.blockBytes(2));
            assertEquals("BF16", Sizing.dominantDtype(bfl));
        }
    }

    @Test
    void fp8FileIsRecognisedAsFp8() throws IOException {
        try (Checkpoint ck = Checkpoint.open(Fixtures.model("flux1-tiny-schnell-single/flux1-schnell-fp8-e4m3fn.safetensors"))) {
            assertEquals("F8_E4M3", Sizing.dominantDtype(ck));
            Component c = Sizing.component("transformer", Phase.DENOISE, ck, 0, true, true);
            assertEquals(c.fileBytes(), c.weightBytes(WeightDtype.FP8), "an FP8 file is kept as it is");
        }
    }
}
