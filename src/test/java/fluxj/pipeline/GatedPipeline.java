package fluxj.pipeline;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Semaphore;

/**
 * A real model whose every transformer call first takes a permit of a gate, so that tests (the server's) hold a
 * generation at an exact step and act there without sleeping.
 */
public final class GatedPipeline {
    private GatedPipeline() {}

    public static FluxPipeline open(Path model, Semaphore gate) throws IOException {
        FluxPipeline.Parts p = FluxComponents.load(ModelSource.of(model.toString()).resolve(HubClient.Listener.NONE));
        Denoiser gated = (img, tokens, ids, t, cond, guidance) -> {
            gate.acquireUninterruptibly();
            return p.denoiser().velocity(img, tokens, ids, t, cond, guidance);
        };
        return new FluxPipeline(new FluxPipeline.Parts(p.info(), p.text(), gated, p.decoder(), p.encoder(), p.memory(), p.onClose()));
    }
}
