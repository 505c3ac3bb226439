package fluxj.batch;

import fluxj.condition.ImageConditioning;
import fluxj.condition.ModelInput;
import fluxj.pipeline.FluxPipeline;
import fluxj.pipeline.GenerationRequest;
import fluxj.pipeline.GenerationResult;
import fluxj.pipeline.ModelHash;
import fluxj.pipeline.ProgressListener;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.UnaryOperator;

/**
 * Turns manifest entries into stored images, one at a time, on one pipeline: a row whose image exists is skipped
 * (so reruns resume and never redo or overwrite work), a row that fails is reported and the next one goes on. The
 * image is the one {@code fluxj generate} writes for the same parameters, byte for byte.
 */
public final class BatchRunner {
    /** Opens the pipeline when the first image is needed (a run that finds everything done loads no model). */
    @FunctionalInterface
    public interface PipelineSource {
        FluxPipeline get() throws IOException;
    }

    private final PipelineSource pipeline;
    private final OutputStore store;
    private final UnaryOperator<GenerationRequest> settings;
    private final Inputs inputs;

    /**
     * @param settings what the run adds to every row's request (memory budget, weight dtype, LoRA mode)
     * @param inputs   where the files rows name are found
     */
    public BatchRunner(PipelineSource pipeline, OutputStore store, UnaryOperator<GenerationRequest> settings, Inputs inputs) {
        this.pipeline = pipeline;
        this.store = store;
        this.settings = settings;
        this.inputs = inputs;
    }

    /**
     * The result of one entry. Failing to open the pipeline is not a row's failure: it propagates (no row could
     * succeed).
     */
    public RowResult run(Manifest.Entry entry, ProgressListener progress) throws IOException {
        return switch (entry) {
            case Manifest.Invalid bad -> new RowResult(bad.id(), bad.line(), RowResult.Status.INVALID, null, null, null, null, bad.error());
            case Manifest.Row row -> generate(row, progress);
        };
    }

    private RowResult generate(Manifest.Row row, ProgressListener progress) throws IOException {
        String name = row.fileName(), file = store.location(name);
        long seed = row.request().seed();
        try {
            byte[] done = store.existing(name);
            if (done != null) return new RowResult(row.id(), row.line(), RowResult.Status.SKIPPED, file, seed, null, ModelHash.sha256(done), null);
        } catch (IOException | UncheckedIOException e) {
            return failed(row, file, seed, e);
        }
        FluxPipeline flux = pipeline.get();
        long start = System.nanoTime();
        try {
            GenerationRequest given = settings.apply(row.request(inputs));
            GenerationRequest request = forModel(given, flux.input(given, progress::warning), flux.model().input());
            GenerationResult result = flux.generate(request, progress);
            byte[] png = result.png();
            store.put(name, png);
            return new RowResult(row.id(), row.line(), RowResult.Status.GENERATED, file, seed, Math.round((System.nanoTime() - start) / 1e6) / 1e3, ModelHash.sha256(png), null);
        } catch (IOException | RuntimeException e) {
            return failed(row, file, seed, e);
        }
    }

    /**
     * {@code r} as the loaded model takes it, as {@code generate} adapts it: an init image with a mask is inpainting
     * for a plain model and FLUX.1 Fill's conditioning for a Fill model; conditions the model cannot take are refused.
     * {@code input}: what the model reads with the row's LoRAs (a control LoRA makes a base model a control model),
     * {@code stored}: without them.
     */
    static GenerationRequest forModel(GenerationRequest r, ModelInput input, ModelInput stored) {
        r = r.toBuilder().conditions(ImageConditioning.forModel(r.conditions(), input)).build();
        ImageConditioning.check(r.conditions(), input, stored);
        return r;
    }

    private static RowResult failed(Manifest.Row row, String file, long seed, Exception e) {
        Throwable t = e instanceof UncheckedIOException u ? u.getCause() : e;
        String why = t.getMessage() == null ? t.toString() : t.getMessage();
        return new RowResult(row.id(), row.line(), RowResult.Status.FAILED, file, seed, null, null, why);
    }
}
