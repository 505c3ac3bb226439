package fluxj.pipeline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InfotextTest {

    @Test
    void formatsAsAutomatic1111AndParsesBack() {
        GenerationRequest r = GenerationRequest.builder("a cat, on a sofa\nsecond line").negativePrompt("blurry").size(64, 48)
                .steps(4).seed(42L).guidance(3.5).cfgScale(2.5).guidanceInterval(0.219, 0.844).build();
        String text = Infotext.of(r, "flux1-schnell", "0123456789").format();
        assertEquals("a cat, on a sofa\nsecond line\nNegative prompt: blurry\n"
                + "Steps: 4, Sampler: Euler, CFG scale: 2.5, Seed: 42, Size: 64x48, Model hash: 0123456789, Model: flux1-schnell, "
                + "Guidance: 3.5, Guidance interval: \"0.219,0.844\", Version: fluxj 0.1.0", text);
        Infotext back = Infotext.parse(text);
        assertEquals(r, back.toRequest());
        assertEquals("flux1-schnell", back.fields().get("Model"));
    }

    @Test
    void readsParametersWrittenByOtherTools() {
        // as AUTOMATIC1111 / Forge write them: quoted values with commas, unknown keys kept
        String a1111 = "masterpiece, a castle\nNegative prompt: lowres, bad\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, "
                + "CFG scale: 7, Seed: 1234, Size: 512x768, Model hash: 6ce0161689, Model: v1-5, Lora hashes: \"a: 123, b: 456\", Version: v1.10.1";
        Infotext t = Infotext.parse(a1111);
        assertEquals("masterpiece, a castle", t.prompt());
        assertEquals("lowres, bad", t.negativePrompt());
        assertEquals("a: 123, b: 456", t.fields().get("Lora hashes"));
        GenerationRequest r = t.toRequest();
        assertEquals(512, r.width());
        assertEquals(768, r.height());
        assertEquals(1234L, r.seed());
        assertEquals(7.0, r.cfgScale());
    }

    @Test
    void plainRequestHasNoNegativeLine() {
        GenerationRequest r = GenerationRequest.builder("x").size(16, 16).steps(1).seed(1L).guidance(3.5).build();
        String text = Infotext.of(r, "m", "h").format();
        assertTrue(text.startsWith("x\nSteps: 1, "), text);
        assertEquals(r, Infotext.parse(text).toRequest());
    }

    @Test
    void pngCarriesTheTextLatin1AndUnicode(@TempDir Path dir) throws IOException {
        RgbImage img = new RgbImage(2, 1, new byte[]{1, 2, 3, 4, 5, 6});
        for (String text : new String[]{"café\nSteps: 1, Seed: 2, Size: 2x1", "猫 🐱\nSteps: 1, Seed: 2, Size: 2x1"}) {
            Path f = dir.resolve("a.png");
            PngFiles.write(f, img, text);
            assertEquals(text, PngFiles.readParameters(f).orElseThrow());
            assertArrayEquals(img.rgb(), PngFiles.readImage(f).rgb());
        }
    }
}
