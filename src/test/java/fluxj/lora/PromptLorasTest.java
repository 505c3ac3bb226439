package fluxj.lora;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code <lora:NAME:WEIGHT>} prompt tags: found, removed, resolved, and written back as the PNG records them. */
class PromptLorasTest {
    @TempDir
    Path dir;

    @Test
    void tagsAreTakenOutOfThePrompt() {
        PromptLoras.Parsed p = PromptLoras.parse("<lora:ink:0.6>a cat, <lora:sharp> on a sofa <lora:warm:-1.5e-1>");
        assertEquals("a cat,  on a sofa ", p.prompt());
        assertEquals(List.of(new PromptLoras.Tag("ink", 0.6), new PromptLoras.Tag("sharp", 1), new PromptLoras.Tag("warm", -0.15)), p.tags());
        assertEquals("no tags here", PromptLoras.parse("no tags here").prompt());
        var e = assertThrows(IllegalArgumentException.class, () -> PromptLoras.parse("a <lora:ink:strong> cat"));
        assertTrue(e.getMessage().contains("<lora:ink:strong>"), e.getMessage());
    }

    @Test
    void tagsResolveInTheLoraDir() throws IOException {
        Files.writeString(dir.resolve("ink.safetensors"), "x");
        List<LoraRef> refs = PromptLoras.resolve(List.of(new PromptLoras.Tag("ink", 0.5)), dir);
        assertEquals(List.of(new LoraRef(dir.resolve("ink.safetensors"), 0.5)), refs);
        assertThrows(IllegalArgumentException.class, () -> PromptLoras.resolve(List.of(new PromptLoras.Tag("nope", 1)), dir));
        assertThrows(IllegalArgumentException.class, () -> PromptLoras.resolve(List.of(new PromptLoras.Tag("ink", 1)), null));
    }

    @Test
    void appendedTagsRoundTrip() {
        List<LoraRef> refs = List.of(new LoraRef(Path.of("/x/ink.safetensors"), 0.75), new LoraRef(Path.of("/y/warm.safetensors"), -1));
        String recorded = PromptLoras.withTags("a cat <on> a sofa", refs);
        assertEquals("a cat <on> a sofa <lora:ink:0.75> <lora:warm:-1>", recorded);
        PromptLoras.Parsed back = PromptLoras.stripAppended(recorded);
        assertEquals("a cat <on> a sofa", back.prompt());
        assertEquals(List.of(new PromptLoras.Tag("ink", 0.75), new PromptLoras.Tag("warm", -1)), back.tags());
    }
}
