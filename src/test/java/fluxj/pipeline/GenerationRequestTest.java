package fluxj.pipeline;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GenerationRequestTest {

    @Test
    void sizeMustBeMultipleOf16AndTheErrorSuggestsOne() {
        var e = assertThrows(IllegalArgumentException.class, () -> GenerationRequest.builder("x").size(1000, 512).build());
        assertTrue(e.getMessage().contains("width") && e.getMessage().contains("1008"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> GenerationRequest.builder("x").size(512, 8).build());
        assertTrue(e.getMessage().contains("height 16"), e.getMessage());
    }

    @Test
    void withersKeepEverythingElse() {
        GenerationRequest r = GenerationRequest.builder("a cat").size(64, 128).steps(3).seed(5L).cfgScale(2).guidanceInterval(0.2, 0.8).build();
        GenerationRequest s = r.withSeed(6);
        assertEquals(6L, s.seed());
        assertEquals(r.withSeed(5), r);
        assertEquals(128, s.height());
        assertTrue(s.trueCfg());
        assertFalse(GenerationRequest.builder("a").build().trueCfg());
        GenerationRequest t = r.withPrompt("a dog").withSize(32, 16).withSteps(7);
        assertEquals(List.of("a dog", 32, 16, 7, 5L, 2.0), List.of(t.prompt(), t.width(), t.height(), t.steps(), t.seed(), t.cfgScale()));
    }

    @Test
    void badGuidanceIntervalIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> GenerationRequest.builder("x").guidanceInterval(0.9, 0.1).build());
    }
}
