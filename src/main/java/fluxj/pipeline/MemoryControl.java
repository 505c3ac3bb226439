package fluxj.pipeline;

import fluxj.memory.MemoryPlan;
import fluxj.memory.Phase;

/** How the pipeline tells its model parts what a run needs, and when each phase is over. */
public interface MemoryControl {
    /** Plans memory for {@code request} and arranges the parts accordingly (dtype, streaming, release in turn). */
    MemoryPlan prepare(GenerationRequest request);

    /** {@code phase} is finished for this image: its components may be released. */
    void done(Phase phase);
}
