package fluxj.text;

import fluxj.io.Checkpoint;
import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import fluxj.tensor.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.DynamicTest;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class ClipTextModelTest {
    /**
     * The reference's own float32 run differs from its float64 run by up to 1.7e-6 on the pooled output
     * (meta.json); our f32 differs from the reference's f32 by rounding of a different summation order, of the
     * same order. 5e-6 is three times that spread and far below any real error (a wrong eps, activation or
     * pooling position moves values by 1e-3 or more).
     */
    private static final double TOLERANCE = 5e-6;

    @TestFactory
    List<DynamicTest> pooledMatchesReference() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (String id : TextFixtures.publicCases()) {
            for (TextFixtures.Layout layout : TextFixtures.Layout.values()) {
                tests.add(DynamicTest.dynamicTest(id + " " + layout, () -> {
                    TextFixtures.Source src = TextFixtures.clip(layout);
                    try (Checkpoint ck = src.open()) {
                        ClipTextModel clip = ClipTextModel.load(ck, src.config());
                        float[] expected = TextFixtures.intermediate(id, "clip_pooled").floats();
                        float[] got = clip.pooled(TextFixtures.intermediate(id, "clip_ids").ints());
                        assertEquals(expected.length, clip.width());
                        double diff = Npy.maxAbsDiff(got, expected);
                        assertTrue(diff <= TOLERANCE, "max |diff| " + diff);
                    }
                }));
            }
        }
        return tests;
    }

    @Test
    void sizesComeFromShapesWithoutConfig() throws IOException {
        try (Checkpoint ck = TextFixtures.clip(TextFixtures.Layout.SINGLE_FILE).open()) {
            TextConfig.Clip c = ClipTextModel.load(ck, null).config();
            assertEquals(new TextConfig.Clip(64, 1, 2, 256, 49408, 77, 1e-5f, TextConfig.Activation.QUICK_GELU, 2), c);
        }
    }

    @Test
    void wholeSidecarOrItsClipSectionAreAccepted() throws IOException {
        Map<String, Object> sidecar = fluxj.io.Json.readObject(Fixtures.model("flux1-tiny-schnell-single/sizes.json"));
        try (Checkpoint ck = TextFixtures.clip(TextFixtures.Layout.SINGLE_FILE).open()) {
            TextConfig.Clip inferred = ClipTextModel.load(ck, null).config();
            assertEquals(inferred, ClipTextModel.load(ck, sidecar).config());
            @SuppressWarnings("unchecked") Map<String, Object> section = (Map<String, Object>) sidecar.get("clip_config");
            assertEquals(inferred, ClipTextModel.load(ck, section).config());
        }
    }

    @Test
    void samePromptIsEncodedOnceAndCallersGetCopies() throws IOException {
        try (Checkpoint ck = TextFixtures.clip(TextFixtures.Layout.SINGLE_FILE).open()) {
            ClipTextModel clip = ClipTextModel.load(ck, null);
            int[] ids = TextFixtures.intermediate("p01_schnell_diffusers", "clip_ids").ints();
            float[] first = clip.pooled(ids);
            float[] expected = first.clone();
            first[0] = 1e9f;
            assertArrayEquals(expected, clip.pooled(ids.clone()));
        }
    }

    @Test
    void otherModelFilesAreNamed() throws IOException {
        assertLooksLike("flux1-tiny-schnell-single/flux1-schnell.safetensors", "looks like a FLUX transformer, not a CLIP text encoder");
        assertLooksLike("flux1-tiny-schnell-single/ae.safetensors", "looks like a VAE (autoencoder), not a CLIP text encoder");
        assertLooksLike("flux1-tiny-schnell-single/t5xxl_fp16.safetensors", "looks like a T5 text encoder, not a CLIP text encoder");
    }

    @Test
    void configDisagreeingWithWeightsIsAnError() throws IOException {
        TextFixtures.Source src = TextFixtures.clip(TextFixtures.Layout.DIFFUSERS);
        Map<String, Object> config = new HashMap<>(src.config());
        config.put("hidden_size", 768L);
        try (Checkpoint ck = src.open()) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> ClipTextModel.load(ck, config));
            assertTrue(e.getMessage().contains("config hidden_size = 768 but the weights have 64"), e.getMessage());
        }
    }

    /** A tensor of the wrong rank (here a flattened embedding) is named with its file, not an index error. */
    @Test
    void wrongRankTensorIsNamed() throws IOException {
        try (Checkpoint ck = TextFixtures.clip(TextFixtures.Layout.SINGLE_FILE).open()) {
            Map<String, fluxj.tensor.Tensor> tensors = new java.util.LinkedHashMap<>(ck.tensors());
            String name = tensors.keySet().stream().filter(k -> k.endsWith("embeddings.token_embedding.weight")).findFirst().orElseThrow();
            fluxj.tensor.Tensor t = tensors.get(name);
            tensors.put(name, new fluxj.tensor.Tensor(name, t.dtype(), new long[]{t.numel()}, t.data(), "flat.safetensors"));
            var e = assertThrows(ModelFormatException.class, () -> ClipTextModel.load(Checkpoint.of("flat.safetensors", tensors), null));
            assertTrue(e.getMessage().startsWith("flat.safetensors: tensor '" + name + "' has shape [" + t.numel() + "], which has no dimension 1"),
                    e.getMessage());
        }
    }

    @Test
    void outOfVocabularyIdIsRejected() throws IOException {
        try (Checkpoint ck = TextFixtures.clip(TextFixtures.Layout.SINGLE_FILE).open()) {
            ClipTextModel clip = ClipTextModel.load(ck, null);
            assertThrows(IllegalArgumentException.class, () -> clip.pooled(new int[]{49406, 50000, 49407}));
            assertThrows(IllegalArgumentException.class, () -> clip.pooled(new int[78]));
        }
    }

    private static void assertLooksLike(String file, String message) throws IOException {
        try (Checkpoint ck = Checkpoint.open(Fixtures.model(file))) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> ClipTextModel.load(ck, null));
            assertTrue(e.getMessage().contains(message), e.getMessage());
            assertTrue(e.getMessage().startsWith(ck.description()), e.getMessage());
        }
    }
}
