package fluxj.server;

import fluxj.condition.ImageCondition;
import fluxj.condition.ModelInput;
import fluxj.condition.SourceImage;
import fluxj.io.Json;
import fluxj.pipeline.GenerationRequest;
import fluxj.pipeline.ModelInfo;
import fluxj.sampling.Schedule;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A job's journal form round-trips its image conditions, and the conditions follow the model that runs them. */
class JobSpecTest {
    private static ModelInfo model(boolean dev, ModelInput input) {
        return new ModelInfo("m", () -> "0", dev, 16, dev ? 512 : 256, Schedule.forModel(dev), input);
    }

    @Test
    @SuppressWarnings("unchecked")
    void conditionsSurviveTheJournal() throws IOException {
        SourceImage init = SourceImage.read(Fixtures.caseDir("pi02_inpaint_schnell").resolve("init.png"));
        SourceImage mask = SourceImage.read(Fixtures.caseDir("pi02_inpaint_schnell").resolve("mask.png"));
        SourceImage ref = SourceImage.read(Fixtures.caseDir("pi01_img2img_schnell").resolve("init.png"));
        List<ImageCondition> conditions = List.of(new ImageCondition.Inpaint(init, mask, 0.7), new ImageCondition.Reference(ref));
        JobSpec spec = new JobSpec(GenerationRequest.builder("p").seed(5L).conditions(conditions).build(), 2, "m", false);
        Map<String, Object> json = (Map<String, Object>) Json.parse(Json.write(spec.toJson()));
        JobSpec back = JobSpec.fromJson(new Fields(json), "other", Limits.DEFAULT, JobSpec.conditionsFromJson((List<?>) json.get("conditions")), false);
        assertEquals(spec.request().width(), back.request().width());
        assertEquals(2, back.count());
        ImageCondition.Inpaint i = assertInstanceOf(ImageCondition.Inpaint.class, back.request().conditions().get(0));
        assertEquals(0.7, i.strength());
        assertEquals(init.name(), i.image().name());
        assertArrayEquals(mask.pixels().rgb(), i.mask().pixels().rgb());
        assertEquals(ref.sha256(), ((ImageCondition.Reference) back.request().conditions().get(1)).image().sha256());
    }

    @Test
    void anA1111JobStillFinishesInterruptedImagesAfterARestart(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws IOException {
        Journal journal = new Journal(dir);
        GenerationRequest r = GenerationRequest.builder("p").seed(5L).build();
        journal.write(new Job("00000000000000a1", 0, new JobSpec(r, 1, "m", false, true), 1));
        journal.write(new Job("00000000000000b2", 1, new JobSpec(r, 1, "m"), 2));
        List<Job> back = journal.load("m", Limits.DEFAULT);
        assertEquals(List.of(true, false), back.stream().map(j -> j.spec.finishInterrupted()).toList());
    }

    @Test
    void theModelDecidesWhatTheImagesOfAnEditAre() throws IOException {
        SourceImage a = SourceImage.read(Fixtures.caseDir("pi01_img2img_schnell").resolve("init.png"));
        SourceImage m = SourceImage.read(Fixtures.caseDir("pi02_inpaint_schnell").resolve("mask.png"));
        JobSpec edit = new JobSpec(GenerationRequest.builder("p").seed(1L).condition(new ImageCondition.Reference(a)).build(), 1, "m", true);
        // a Kontext (dev, 64-channel) model keeps references; schnell makes the image an img2img start at 0.8
        assertInstanceOf(ImageCondition.Reference.class, edit.requestFor(model(true, ModelInput.LATENT)).conditions().getFirst());
        ImageCondition.InitImage init = assertInstanceOf(ImageCondition.InitImage.class, edit.requestFor(model(false, ModelInput.LATENT)).conditions().getFirst());
        assertEquals(JobSpec.DEFAULT_STRENGTH, init.strength());
        JobSpec two = new JobSpec(GenerationRequest.builder("p").seed(1L).size(64, 64)
                .conditions(List.of(new ImageCondition.Reference(a), new ImageCondition.Reference(a))).build(), 1, "m", true);
        assertThrows(IllegalArgumentException.class, () -> two.requestFor(model(false, ModelInput.LATENT)));
        // inpainting on a Fill model is Fill (no strength); elsewhere it stays inpainting
        JobSpec inpaint = new JobSpec(GenerationRequest.builder("p").seed(1L).condition(new ImageCondition.Inpaint(a, m, 0.5)).build(), 1, "m", false);
        assertInstanceOf(ImageCondition.Fill.class, inpaint.requestFor(model(true, ModelInput.FILL)).conditions().getFirst());
        assertInstanceOf(ImageCondition.Inpaint.class, inpaint.requestFor(model(false, ModelInput.LATENT)).conditions().getFirst());
    }
}
