package fluxj.pipeline;

import fluxj.memory.Component;
import fluxj.memory.Device;
import fluxj.memory.ImageInputs;
import fluxj.memory.MemoryPlan;
import fluxj.memory.Phase;
import fluxj.memory.Planner;
import fluxj.memory.WeightDtype;
import fluxj.sampling.Schedule;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** {@link ProgressListener#cancelled()} stops a generation between steps and releases the parts as planned. */
class CancellationTest {
    private static final ModelInfo SCHNELL = new ModelInfo("fake", () -> "0000000000", false, 16, 256, Schedule.SCHNELL);
    private static final Conditioning COND = new Conditioning(new float[4], 1, new float[4], List.of());

    private final AtomicInteger forwards = new AtomicInteger(), decodes = new AtomicInteger();
    private final List<Phase> released = new ArrayList<>();
    private final FluxPipeline pipeline = new FluxPipeline(new FluxPipeline.Parts(SCHNELL, p -> COND,
            (img, h, w, t, cond, g) -> {
                forwards.incrementAndGet();
                return new float[img.length];
            },
            (z, h, w) -> {
                decodes.incrementAndGet();
                return new float[3 * 64 * h * w];
            },
            new MemoryControl() {
                @Override
                public MemoryPlan prepare(GenerationRequest request, ImageInputs images) {
                    Component flux = new Component("transformer", Phase.DENOISE, 1 << 20, "F32", 1 << 18, 1 << 20, 0, 0, 0, true);
                    return Planner.plan(new Device.Cpu(1L << 30), 1L << 30, List.of(flux), WeightDtype.STORED, false);
                }

                @Override
                public void done(Phase phase) { released.add(phase); }
            }, null));
    private final GenerationRequest request = GenerationRequest.builder("p").size(32, 32).steps(4).seed(1L).build();

    /** A listener that asks to stop once {@code afterSteps} steps are done. */
    private static ProgressListener stopAfter(int afterSteps) {
        return new ProgressListener() {
            int steps;

            @Override
            public void step(Step s) { steps = s.step(); }

            @Override
            public boolean cancelled() { return steps >= afterSteps; }
        };
    }

    @Test
    void cancelledAfterTheSecondStepRunsNoMoreStepsAndNoDecode() {
        assertThrows(GenerationCancelledException.class, () -> pipeline.generate(request, stopAfter(2)));
        assertEquals(2, forwards.get());
        assertEquals(0, decodes.get());
        // every phase's parts are released, as at the end of an image, so the next image starts from the plan
        int n = Phase.values().length;
        assertEquals(List.of(Phase.values()), released.subList(released.size() - n, released.size()));
    }

    @Test
    void cancelledBeforeStartingDoesNoWorkAndNotCancelledRunsEveryStep() {
        assertThrows(GenerationCancelledException.class, () -> pipeline.generate(request, stopAfter(0)));
        assertEquals(0, forwards.get());
        pipeline.generate(request, stopAfter(99));
        assertEquals(4, forwards.get());
        assertEquals(1, decodes.get());
    }
}
