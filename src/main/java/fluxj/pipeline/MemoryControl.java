package fluxj.pipeline;

import fluxj.condition.ModelInput;
import fluxj.lora.LoraRef;
import fluxj.memory.ImageInputs;
import fluxj.memory.MemoryPlan;
import fluxj.memory.Phase;

import java.util.List;
import java.util.function.Consumer;

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

    /**
     * Makes exactly {@code loras} apply from the next use of the model parts on (undoing the previous set without
     * re-reading the base weights), after checking every file against the model; modules that match nothing go to
     * {@code warnings}. Returns whether the text encoders changed (so prompts must be encoded again).
     */
    default boolean applyLoras(List<LoraRef> loras, Consumer<String> warnings) {
        if (!loras.isEmpty()) throw new IllegalArgumentException("these model parts take no LoRA");
        return false;
    }

    /**
     * What the transformer reads with the applied LoRAs, for a model that reads {@code stored} without them: a
     * Canny/Depth control LoRA makes a base model a control model.
     */
    default ModelInput input(ModelInput stored) { return stored; }
}
