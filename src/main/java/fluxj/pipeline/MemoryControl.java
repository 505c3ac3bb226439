package fluxj.pipeline;

import fluxj.memory.ImageInputs;
import fluxj.memory.MemoryPlan;
import fluxj.memory.Phase;

/** How the pipeline tells its model parts what a run needs, and when each phase is over. */
public interface MemoryControl {
    /**
     * Plans memory for {@code request} with the input images it brings ({@code images}: the sizes to encode and the
     * reference tokens they add) and arranges the parts accordingly (dtype, streaming, release in turn).
     */
    MemoryPlan prepare(GenerationRequest request, ImageInputs images);

    /** {@link #prepare(GenerationRequest, ImageInputs)} for a request without input images. */
    default MemoryPlan prepare(GenerationRequest request) { return prepare(request, ImageInputs.NONE); }

    /** {@code phase} is finished for this image: its components may be released. */
    void done(Phase phase);
}
