package fluxj.condition;

import fluxj.pipeline.GenerationRequest;
import fluxj.pipeline.Infotext;
import fluxj.pipeline.RgbImage;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Image conditions as data: their checks, outpainting, the sizes they imply and their record in the PNG parameters. */
class ImageConditionTest {
    private static SourceImage image(int w, int h, int value, String name) {
        byte[] px = new byte[w * h * 3];
        java.util.Arrays.fill(px, (byte) value);
        return new SourceImage(new RgbImage(w, h, px), name, name == null ? null : "ab".repeat(32));
    }

    @Test
    void strengthAndMaskSizeAreChecked() {
        SourceImage img = image(64, 48, 9, "in.png");
        assertThrows(IllegalArgumentException.class, () -> new ImageCondition.InitImage(img, 1.01));
        assertThrows(IllegalArgumentException.class, () -> new ImageCondition.InitImage(img, Double.NaN));
        var e = assertThrows(IllegalArgumentException.class, () -> new ImageCondition.Fill(img, image(64, 64, 255, "m.png")));
        assertTrue(e.getMessage().contains("m.png") && e.getMessage().contains("64x64") && e.getMessage().contains("64x48"), e.getMessage());
    }

    @Test
    void outpaintingPadsWithBlackAndMasksTheMargins() {
        ImageCondition.Fill f = new ImageCondition.Outpaint(image(2, 1, 7, "in.png"), 1, 0, 0, 2).fill();
        assertEquals(3, f.image().width());
        assertEquals(3, f.image().height());
        byte[] px = f.image().pixels().rgb(), mask = f.mask().pixels().rgb();
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 3; x++) {
                boolean inside = y == 0 && x >= 1;
                assertEquals(inside ? 7 : 0, px[(y * 3 + x) * 3], "pixel " + x + "," + y);
                assertEquals(inside ? 0 : 255, mask[(y * 3 + x) * 3] & 0xff, "mask " + x + "," + y);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new ImageCondition.Outpaint(image(2, 1, 7, null), -1, 0, 0, 0));
    }

    @Test
    void sizeComesFromTheImagesUnlessGiven() {
        GenerationRequest r = GenerationRequest.builder("p").condition(new ImageCondition.InitImage(image(100, 70, 0, null), 0.5)).build();
        assertEquals(96, r.width());
        assertEquals(64, r.height());
        r = GenerationRequest.builder("p").width(128).condition(new ImageCondition.InitImage(image(100, 70, 0, null), 0.5)).build();
        assertEquals(128, r.width());
        assertEquals(64, r.height());
        r = GenerationRequest.builder("p").condition(new ImageCondition.Reference(image(40, 20, 0, null))).build();
        assertEquals(1456, r.width()); // 2:1 -> the nearest preferred Kontext resolution, 1456x720
        assertEquals(720, r.height());
        r = GenerationRequest.builder("p").condition(new ImageCondition.Outpaint(image(40, 32, 0, null), 8, 0, 0, 0)).build();
        assertEquals(48, r.width());
        assertThrows(IllegalArgumentException.class, () -> GenerationRequest.builder("p").condition(new ImageCondition.InitImage(image(8, 64, 0, null), 0.5)).build());
        assertEquals(1024, GenerationRequest.builder("p").build().width());
    }

    @Test
    void memoryPlanInputsFollowTheConditions() {
        // a 64x64 target: the init image is encoded at the target's size, a 500x480 reference at 1024x1024 (4096 tokens)
        var in = ImageConditioning.memoryInputs(List.of(new ImageCondition.InitImage(image(100, 70, 0, null), 0.5),
                new ImageCondition.Reference(image(500, 480, 0, null)), new ImageCondition.Reference(image(1568, 672, 0, null))), 64, 64);
        assertEquals(List.of(new fluxj.memory.ImageInputs.Size(64, 64), new fluxj.memory.ImageInputs.Size(1024, 1024),
                new fluxj.memory.ImageInputs.Size(1568, 672)), in.encoded());
        assertEquals(4096 + 98 * 42, in.referenceTokens());
        assertEquals(0, ImageConditioning.memoryInputs(List.of(), 64, 64).encoded().size());
    }

    @Test
    void conflictingConditionsAreRefused() {
        SourceImage img = image(16, 16, 0, null);
        assertThrows(IllegalArgumentException.class, () -> GenerationRequest.builder("p")
                .condition(new ImageCondition.InitImage(img, 0.5)).condition(new ImageCondition.Fill(img, img)).build());
        assertThrows(IllegalArgumentException.class, () -> GenerationRequest.builder("p")
                .condition(new ImageCondition.Control(img)).condition(new ImageCondition.Control(img)).build());
    }

    @Test
    void recordedInTheParametersAndReadBack() {
        List<ImageCondition> cs = List.of(new ImageCondition.Inpaint(image(16, 16, 0, "a, b.png"), image(16, 16, 255, "mask.png"), 0.75),
                new ImageCondition.Reference(image(16, 16, 0, "r1.png")), new ImageCondition.Reference(image(16, 16, 0, null)),
                new ImageCondition.Control(image(16, 16, 0, "edges.png")));
        GenerationRequest r = GenerationRequest.builder("p").size(16, 16).steps(1).seed(1L).guidance(3.5).conditions(cs).build();
        Infotext info = Infotext.parse(Infotext.of(r, "m", "0123456789").format());
        ConditionRecord.Recorded rec = ConditionRecord.parse(info.fields());
        assertEquals("a, b.png", rec.init().name());
        assertEquals("ab".repeat(32), rec.init().sha256());
        assertEquals("mask.png", rec.mask().name());
        assertEquals(0.75, rec.strength());
        assertNull(rec.outpaint());
        assertEquals(List.of(new ConditionRecord.File("r1.png", "ab".repeat(32)), new ConditionRecord.File(ConditionRecord.IN_MEMORY, null)), rec.references());
        assertEquals("edges.png", rec.control().name());

        r = r.toBuilder().conditions(List.of(new ImageCondition.Outpaint(image(16, 16, 0, "o.png"), 0, 16, 0, 0))).build();
        rec = ConditionRecord.parse(Infotext.parse(Infotext.of(r, "m", "0123456789").format()).fields());
        assertArrayEquals(new int[]{0, 16, 0, 0}, rec.outpaint());
        assertNull(rec.mask());
        assertNull(rec.strength());
    }
}
