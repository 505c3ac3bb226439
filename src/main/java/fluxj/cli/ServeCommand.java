package fluxj.cli;

import fluxj.memory.ByteSize;
import fluxj.memory.WeightDtype;
import fluxj.pipeline.ModelSource;
import fluxj.server.FluxServer;
import fluxj.server.Limits;
import fluxj.server.ServeSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code fluxj serve}: the HTTP server (OpenAI and A1111 image APIs, jobs API, web page) over loaded models. */
@Command(name = "serve", sortOptions = false, usageHelpAutoWidth = true,
        description = {"Serve FLUX.1 over HTTP: the OpenAI Images API, the AUTOMATIC1111 API, fluxj's jobs API with live progress, and a web page.",
                "Models stay loaded between jobs; jobs run one at a time in arrival order. Stop with Ctrl-C: the running job finishes, queued ones resume at the next start."})
final class ServeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR|FILE|REPO_ID", description = {"A model to serve (repeat to offer several; the first is loaded at start,",
            "the others when a request selects them). Default: " + ModelSource.DEFAULT_REPO + "."})
    List<String> models = new ArrayList<>();
    @Mixin
    ModelParts parts;
    @Option(names = "--host", paramLabel = "ADDRESS", description = "Address to listen on (default 127.0.0.1: this machine only).")
    String host = "127.0.0.1";
    @Option(names = "--port", paramLabel = "N", description = "Port (default 7860, as AUTOMATIC1111; 0 = any free port).")
    int port = 7860;
    @Option(names = "--api-key", paramLabel = "KEY", description = {"Require 'Authorization: Bearer KEY' (or KEY as the Basic auth password) on every API call.",
            "Default: the FLUXJ_API_KEY environment variable. Required to listen beyond loopback."})
    String apiKey;
    @Option(names = "--insecure", description = "Allow listening beyond loopback without an API key.")
    boolean insecure;
    @Option(names = "--cors", paramLabel = "ORIGIN", description = "Let pages from ORIGIN (e.g. http://localhost:3000, or *) call the API from a browser (default: no CORS).")
    String cors;
    @Option(names = "--output-dir", paramLabel = "DIR", description = "Where images and the job journal go (default ./fluxj-output).")
    Path outputDir = Path.of("fluxj-output");
    @Option(names = "--queue-size", paramLabel = "N", description = "Jobs that may wait; more are refused with 429 (default 16).")
    int queueSize = 16;
    @Option(names = "--max-body", paramLabel = "SIZE", description = "Largest request body, e.g. 64M (default); larger ones get 413.")
    String maxBody = "64M";
    @Option(names = "--max-size", paramLabel = "PX", description = "Largest width or height a request may ask for (default " + 2048 + ").")
    int maxSide = Limits.DEFAULT.maxSide();
    @Option(names = "--max-steps", paramLabel = "N", description = "Most steps a request may ask for (default 100).")
    int maxSteps = Limits.DEFAULT.maxSteps();
    @Option(names = "--max-images", paramLabel = "N", description = "Most images per request (default 8).")
    int maxImages = Limits.DEFAULT.maxImages();
    @Option(names = "--memory-budget", paramLabel = "SIZE", description = "Memory the engine may use, e.g. 16G (default: the machine's RAM less headroom).")
    String memoryBudget;
    @Option(names = "--weight-dtype", paramLabel = "stored|fp8", description = "Hold transformer weights as stored (default) or as FP8.")
    String weightDtype;

    @Override
    public Integer call() throws Exception {
        String key = apiKey != null ? apiKey : System.getenv("FLUXJ_API_KEY");
        Limits limits = new Limits(maxSide, maxSteps, maxImages, ByteSize.parse(maxBody));
        ServeSettings settings = new ServeSettings(memoryBudget == null ? 0 : ByteSize.parse(memoryBudget),
                weightDtype == null ? null : WeightDtype.parse(weightDtype));
        FluxServer.Config config = new FluxServer.Config(host, port, key, insecure, cors, outputDir, queueSize, limits, settings);
        List<ModelSource> sources = new ArrayList<>();
        for (String m : models.isEmpty() ? java.util.Collections.<String>singletonList(null) : models) sources.add(parts.source(m));
        Progress progress = new Progress(spec.commandLine().getErr(), false, false);
        FluxServer server = FluxServer.start(config, sources, progress);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            progress.line("fluxj serve: stopping (the running job finishes; queued jobs resume at the next start)");
            server.close();
            stopped.countDown();
        }, "fluxj-shutdown"));
        var out = spec.commandLine().getOut();
        out.println("fluxj serve: listening on " + server.uri() + " (web page there; OpenAI API at " + server.uri() + "v1, A1111 API at " + server.uri() + "sdapi/v1)");
        out.flush();
        stopped.await();
        return 0;
    }
}
