package fluxj.server;

import fluxj.pipeline.FluxPipeline;
import fluxj.pipeline.HubClient;
import fluxj.pipeline.ModelInfo;
import fluxj.pipeline.ModelSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The models a server offers, by name. One is open at a time (a FLUX.1 model takes most of a machine's memory);
 * switching closes it and opens the other on the worker thread, between jobs. The current one (A1111's
 * {@code sd_model_checkpoint}) is what requests without a model get.
 */
final class Models implements AutoCloseable {
    /** Opens a served model's pipeline. */
    interface Opener {
        FluxPipeline open() throws IOException;
    }

    /** A served model: its display name (as stored in the PNG), where it is (for listings) and how to open it. */
    record Served(String name, String location, Opener opener) {}

    private final List<Served> served;
    private final Map<String, String> hashes = new ConcurrentHashMap<>();
    private volatile String current;
    private FluxPipeline open;
    private volatile String openName;
    private volatile ModelInfo openInfo;

    Models(List<Served> served) {
        if (served.isEmpty()) throw new IllegalArgumentException("no model to serve");
        for (Served s : served) {
            if (served.stream().filter(m -> m.name().equals(s.name())).count() > 1) throw new IllegalArgumentException("two served models are named '" + s.name() + "'; serve one of them");
        }
        this.served = List.copyOf(served);
        current = served.getFirst().name();
    }

    /** The models of {@code sources}, named as the pipeline will name them (their files are found, not loaded). */
    static Models of(List<ModelSource> sources, HubClient.Listener listener) throws IOException {
        List<Served> s = new ArrayList<>();
        for (ModelSource src : sources) {
            s.add(new Served(src.resolve(listener).name(), src.model() == null ? ModelSource.DEFAULT_REPO : src.model(), () -> FluxPipeline.open(src, listener)));
        }
        return new Models(s);
    }

    List<Served> served() { return served; }

    String current() { return current; }

    /** The A1111 title: "name [hash]" once the hash is known. */
    String title(String name) {
        String h = hashes.get(name);
        return h == null ? name : name + " [" + h + "]";
    }

    /** The short hash of a model that has made an image (null before: hashing a large file takes a while). */
    String hash(String name) { return hashes.get(name); }

    void noteHash(String name, String hash) {
        if (hash != null) hashes.put(name, hash);
    }

    /** The served model a client named, by name or A1111 title; null when none matches. */
    String find(String requested) {
        if (requested == null) return null;
        String r = requested.strip();
        for (Served s : served) {
            if (s.name().equals(r) || title(s.name()).equals(r)) return s.name();
        }
        // clients may send the title with a hash they computed differently, or the file name with its extension
        for (Served s : served) {
            if (r.startsWith(s.name() + " [") || r.equals(s.name() + ".safetensors")) return s.name();
        }
        return null;
    }

    /** The served model {@code requested} names; 400 naming {@code field} when none has that name. */
    String require(String requested, String field) {
        String name = find(requested);
        if (name == null) {
            throw ApiException.invalid(field, "no served model is named '" + requested + "'; served: " + String.join(", ", served.stream().map(Served::name).toList()));
        }
        return name;
    }

    /** Makes {@code requested} the current model (400 naming {@code field} when unknown). */
    String select(String requested, String field) {
        String name = require(requested, field);
        current = name;
        return name;
    }

    /** The open pipeline of model {@code name}, opening it (and closing another) first. Worker thread only. */
    synchronized FluxPipeline pipeline(String name) throws IOException {
        if (name.equals(openName)) return open;
        Served s = served.stream().filter(m -> m.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("the model '" + name + "' is no longer served"));
        if (open != null) open.close();
        open = null;
        openName = null;
        open = s.opener().open();
        openName = name;
        openInfo = open.model();
        return open;
    }

    /** What model {@code name} is, when it is the open one (null otherwise: another is only known once opened). */
    ModelInfo infoIfOpen(String name) {
        ModelInfo info = openInfo;
        return name.equals(openName) ? info : null;
    }

    @Override
    public synchronized void close() {
        if (open != null) open.close();
        open = null;
        openName = null;
    }
}
