package fluxj.server;

import fluxj.condition.ImageCondition;
import fluxj.condition.SourceImage;
import fluxj.io.Json;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * fluxj's own API under {@code /fluxj/v1}: submit a job (202 with its id and queue position), read it, cancel it,
 * follow it as server-sent events (queued, started, step with ETA and preview, image, done / failed / cancelled),
 * fetch its outputs; and {@code /health}.
 */
final class JobsApi {
    private static final String ID = "([0-9a-f]{16})";
    private static final Pattern FILE = Pattern.compile("[0-9a-f]{16}-[0-9]{1,4}\\.(png|jpg|webp)");
    private static final long HEARTBEAT_SECONDS = 15;
    private final FluxServer server;
    private final JobQueue queue;

    JobsApi(FluxServer server) {
        this.server = server;
        this.queue = server.queue();
    }

    void register() {
        server.route("GET", "/health", FluxServer.Api.NATIVE, true, this::health);
        server.route("GET", "/fluxj/v1/models", FluxServer.Api.NATIVE, false, this::models);
        server.route("POST", "/fluxj/v1/jobs", FluxServer.Api.NATIVE, false, this::submit);
        server.route("GET", "/fluxj/v1/jobs", FluxServer.Api.NATIVE, false, this::list);
        server.route("GET", "/fluxj/v1/jobs/" + ID, FluxServer.Api.NATIVE, false, this::get);
        server.route("POST", "/fluxj/v1/jobs/" + ID + "/cancel", FluxServer.Api.NATIVE, false, this::cancel);
        server.route("GET", "/fluxj/v1/jobs/" + ID + "/events", FluxServer.Api.NATIVE, false, this::events);
        server.route("GET", "/fluxj/v1/outputs/([^/]+)", FluxServer.Api.NATIVE, false, this::output);
    }

    private void health(Call c) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("status", "ok");
        m.put("model", queue.models().current());
        Job running = queue.running();
        m.put("running", running == null ? null : running.id);
        m.put("queued", (long) queue.queued());
        c.json(200, m);
    }

    private void models(Call c) throws IOException {
        Models models = queue.models();
        List<Object> list = models.served().stream().map(s -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", s.name());
            m.put("hash", models.hash(s.name()));
            m.put("current", s.name().equals(models.current()));
            return (Object) m;
        }).toList();
        Map<String, Object> limits = new LinkedHashMap<>();
        Limits l = server.config().limits();
        limits.put("max_side", (long) l.maxSide());
        limits.put("max_steps", (long) l.maxSteps());
        limits.put("max_images", (long) l.maxImages());
        limits.put("max_body_bytes", l.maxBodyBytes());
        c.json(200, Map.of("models", list, "limits", limits));
    }

    private void submit(Call c) throws IOException {
        Fields f = c.json();
        String model = f.string("model", null);
        String name = model == null ? queue.models().current() : queue.models().require(model, "model");
        JobSpec spec = JobSpec.fromJson(f, null, server.config().limits(), conditions(f), false);
        Job job = server.submit(new JobSpec(spec.request(), spec.count(), name, false));
        c.ex.getResponseHeaders().set("Location", "/fluxj/v1/jobs/" + job.id);
        c.json(202, job.toJson(queue.position(job)));
    }

    /**
     * The image conditions of a job request: {@code init_image} (img2img; with {@code mask}: inpainting, or Fill on a
     * Fill model; with {@code outpaint} [left, top, right, bottom]: Fill outpainting), {@code strength},
     * {@code ref_images} (Kontext) and {@code control_image}, each base64 or a data URL.
     */
    private List<ImageCondition> conditions(Fields f) throws IOException {
        boolean init = f.has("init_image");
        for (String k : List.of("mask", "strength", "outpaint")) {
            if (f.has(k) && !init) throw ApiException.invalid(k, "needs init_image (the image it applies to)");
        }
        if (f.has("mask") && f.has("outpaint")) throw ApiException.invalid("outpaint", "makes its own mask: give mask or outpaint, not both");
        Double strength = f.number("strength", 0, 1);
        List<?> outpaint = f.list("outpaint");
        int[] margins = null;
        if (outpaint != null) {
            if (outpaint.size() != 4 || !outpaint.stream().allMatch(v -> v instanceof Long l && l >= 0 && l <= server.config().limits().maxSide())) {
                throw ApiException.invalid("outpaint", "must be [left, top, right, bottom], pixels between 0 and " + server.config().limits().maxSide());
            }
            margins = outpaint.stream().mapToInt(v -> ((Long) v).intValue()).toArray();
        }
        List<?> refs = f.list("ref_images");
        if (refs != null && refs.size() > server.config().limits().maxImages()) throw ApiException.invalid("ref_images", "at most " + server.config().limits().maxImages() + " reference images");
        Uploads up = server.uploads();
        List<ImageCondition> out = new ArrayList<>();
        try {
            if (init) {
                SourceImage image = up.save("init_image", Uploads.base64("init_image", f.requiredString("init_image")));
                double s = strength == null ? JobSpec.DEFAULT_STRENGTH : strength;
                if (margins != null) out.add(new ImageCondition.Outpaint(image, margins[0], margins[1], margins[2], margins[3]));
                else if (f.has("mask")) out.add(new ImageCondition.Inpaint(image, up.save("mask", Uploads.base64("mask", f.requiredString("mask"))), s));
                else out.add(new ImageCondition.InitImage(image, s));
            }
            if (refs != null) {
                for (Object r : refs) {
                    if (!(r instanceof String b64)) throw ApiException.invalid("ref_images", "must be a list of base64 images");
                    out.add(new ImageCondition.Reference(up.save("ref_images", Uploads.base64("ref_images", b64))));
                }
            }
            if (f.has("control_image")) out.add(new ImageCondition.Control(up.save("control_image", Uploads.base64("control_image", f.requiredString("control_image")))));
        } catch (IllegalArgumentException e) {
            out.forEach(up::forget);
            throw ApiException.invalid(f.has("mask") ? "mask" : "init_image", e.getMessage());
        } catch (ApiException e) {
            out.forEach(up::forget);
            throw e;
        }
        return out;
    }

    private void list(Call c) throws IOException {
        Long limit = new Fields(Map.copyOf(c.query())).integer("limit", 1, 200);
        List<Object> jobs = queue.recent(limit == null ? 50 : limit.intValue()).stream().map(j -> (Object) j.toJson(queue.position(j))).toList();
        c.json(200, Map.of("jobs", jobs));
    }

    private Job job(Call c) {
        Job j = queue.job(c.path.group(1));
        if (j == null) throw new ApiException(404, null, "no job " + c.path.group(1));
        return j;
    }

    private void get(Call c) throws IOException {
        Job j = job(c);
        c.json(200, j.toJson(queue.position(j)));
    }

    private void cancel(Call c) throws IOException {
        Job j = job(c);
        if (j.status().finished()) throw new ApiException(409, null, "job " + j.id + " is already " + j.status().json());
        queue.cancel(j.id);
        c.json(200, j.toJson(queue.position(j)));
    }

    /** Server-sent events until the job ends or the client leaves (a client leaving does not touch the job). */
    private void events(Call c) throws IOException {
        Job j = job(c);
        BlockingQueue<Job.Event> events = j.subscribe(queue.position(j));
        try (OutputStream out = c.stream(200, "text/event-stream; charset=utf-8")) {
            while (true) {
                Job.Event e;
                try {
                    e = events.poll(HEARTBEAT_SECONDS, TimeUnit.SECONDS);
                } catch (InterruptedException ie) {
                    return;
                }
                if (e == null) {
                    out.write(": keep-alive\n\n".getBytes(StandardCharsets.UTF_8));
                } else {
                    out.write(("event: " + e.name() + "\ndata: " + Json.write(e.data()) + "\n\n").getBytes(StandardCharsets.UTF_8));
                }
                out.flush();
                if (e != null && e.terminal()) return;
            }
        } finally {
            j.unsubscribe(events);
        }
    }

    /** A finished image, by its own name only: no folders, no dots, nothing outside the output directory. */
    private void output(Call c) throws IOException {
        String name = c.path.group(1);
        if (!FILE.matcher(name).matches()) throw new ApiException(404, null, "no output named '" + name + "'");
        Path dir = queue.outputDir();
        Path f = dir.resolve(name).normalize();
        if (!f.getParent().equals(dir) || !Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) throw new ApiException(404, null, "no output named '" + name + "'");
        String type = name.endsWith(".png") ? "image/png" : name.endsWith(".webp") ? "image/webp" : "image/jpeg";
        c.send(200, type, Files.readAllBytes(f));
    }
}
