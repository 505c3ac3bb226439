package fluxj.server;

import fluxj.pipeline.GatedPipeline;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Semaphore;

/**
 * A test server on the tiny schnell model whose transformer takes a permit per call, so a test can hold a job at an
 * exact step instead of racing it. Closing opens the gate before the server waits for its job, so a test that fails
 * while a job is held ends instead of hanging.
 */
final class GatedServer implements AutoCloseable {
    final TestServer server;
    private final Semaphore gate = new Semaphore(0);

    GatedServer(Path dir) throws IOException {
        Path model = TestServer.tinyModel();
        Models models = new Models(List.of(new Models.Served("flux1-tiny-schnell", model.toString(), () -> GatedPipeline.open(model, gate))));
        server = TestServer.start(TestServer.config(dir), models);
    }

    /**
     * Lets {@code calls} more transformer calls through, then waits until the running job is at step {@code step} of
     * image {@code image} and its next call waits at the gate.
     */
    void hold(int image, int step, int calls) throws InterruptedException {
        gate.release(calls);
        long end = System.currentTimeMillis() + 60_000;
        while (true) {
            Job j = server.server.queue().running();
            if (j != null && j.image() == image && j.step() == step && gate.hasQueuedThreads() && gate.availablePermits() == 0) return;
            if (System.currentTimeMillis() > end) throw new AssertionError("the job never reached step " + step + " of image " + image);
            Thread.sleep(5);
        }
    }

    /** Lets every call through from now on. */
    void open() {
        gate.release(Integer.MAX_VALUE / 2);
    }

    @Override
    public void close() {
        open();
        server.close();
    }
}
