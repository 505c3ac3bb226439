package fluxj.server;

import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * One accepted job and everything a client may ask about it: status, progress with ETA, the latest preview, the
 * finished outputs. Thread-safe: the worker updates it, HTTP threads read it and subscribe to its events.
 */
final class Job {
    enum Status {
        QUEUED, RUNNING, DONE, FAILED, CANCELLED;

        boolean finished() { return this == DONE || this == FAILED || this == CANCELLED; }

        String json() { return name().toLowerCase(java.util.Locale.ROOT); }
    }

    /** A finished image: its file in the output directory, its seed and its PNG parameters text. */
    record Output(String file, long seed, String parameters) {
        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("file", file);
            m.put("url", OUTPUTS_PATH + file);
            m.put("seed", seed);
            m.put("parameters", parameters);
            return m;
        }
    }

    /** A server-sent event: its name and JSON data. */
    record Event(String name, Map<String, Object> data) {
        boolean terminal() { return name.equals("done") || name.equals("failed") || name.equals("cancelled"); }
    }

    static final String OUTPUTS_PATH = "/fluxj/v1/outputs/";
    private static final int SUBSCRIBER_BACKLOG = 64;

    final String id;
    final long seq;
    final JobSpec spec;
    final long created;
    private Status status = Status.QUEUED;
    private long started, finished;
    private int image, step, steps;
    private double etaSeconds = Double.NaN;
    private String error;
    private final List<Output> outputs = new ArrayList<>();
    private byte[] preview;
    private volatile boolean cancelRequested, interruptRequested, skipRequested;
    private final List<BlockingQueue<Event>> subscribers = new CopyOnWriteArrayList<>();

    Job(String id, long seq, JobSpec spec, long created) {
        this.id = id;
        this.seq = seq;
        this.spec = spec;
        this.created = created;
    }

    synchronized Status status() { return status; }

    synchronized List<Output> outputs() { return List.copyOf(outputs); }

    synchronized String error() { return error; }

    synchronized byte[] preview() { return preview; }

    synchronized int image() { return image; }

    synchronized int step() { return step; }

    synchronized int steps() { return steps; }

    synchronized double etaSeconds() { return etaSeconds; }

    /** Fraction done over all images, 0..1. */
    synchronized double fraction() {
        if (status == Status.DONE) return 1;
        if (steps == 0) return (double) outputs.size() / spec.count();
        return (image + (double) step / steps) / spec.count();
    }

    boolean cancelRequested() { return cancelRequested; }

    void requestCancel() { cancelRequested = true; }

    /** Finishes the current image from where it is and makes no more (A1111's interrupt of a job that keeps it). */
    void requestInterrupt() { interruptRequested = true; }

    boolean interruptRequested() { return interruptRequested; }

    /** Stops the current image only; the job goes on with the next (A1111's skip). */
    void requestSkip() { skipRequested = true; }

    boolean skipPending() { return skipRequested; }

    boolean takeSkip() {
        boolean s = skipRequested;
        skipRequested = false;
        return s;
    }

    // --- transitions, called by the worker (and by the queue for cancels of queued jobs) ---

    void started(long now) {
        synchronized (this) {
            status = Status.RUNNING;
            started = now;
        }
        publish(new Event("started", Map.of("id", id)));
    }

    void imageStarted(int index) {
        synchronized (this) {
            image = index;
            step = 0;
            steps = 0;
        }
    }

    void step(int index, int step, int steps, double secondsPerStep, byte[] previewPng) {
        double eta = secondsPerStep * ((steps - step) + (double) (spec.count() - index - 1) * steps);
        synchronized (this) {
            this.image = index;
            this.step = step;
            this.steps = steps;
            this.etaSeconds = eta;
            this.preview = previewPng;
        }
        Map<String, Object> d = progressJson();
        d.put("id", id);
        if (previewPng != null) d.put("preview", "data:image/png;base64," + Base64.getEncoder().encodeToString(previewPng));
        publish(new Event("step", d));
    }

    void output(Output o) {
        synchronized (this) {
            outputs.add(o);
        }
        Map<String, Object> d = new LinkedHashMap<>(o.toJson());
        d.put("id", id);
        publish(new Event("image", d));
    }

    void finish(Status s, String message, long now) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("id", id);
        synchronized (this) {
            status = s;
            error = message;
            finished = now;
            preview = null;
            if (s == Status.DONE) d.put("outputs", outputs.stream().map(Output::toJson).toList());
            else if (message != null) d.put("error", message);
            notifyAll();
        }
        publish(new Event(s.json(), d));
    }

    /** Waits until the job is finished, however long it takes (the client's own timeout decides). */
    synchronized void await() throws InterruptedException {
        while (!status.finished()) wait();
    }

    /** Waits until the job is finished (or the timeout passes); returns whether it is. */
    synchronized boolean await(long millis) throws InterruptedException {
        long end = System.currentTimeMillis() + millis;
        while (!status.finished()) {
            long left = end - System.currentTimeMillis();
            if (left <= 0) return false;
            wait(left);
        }
        return true;
    }

    // --- events ---

    /** A stream of this job's events from now on, starting with one that describes its present state. */
    BlockingQueue<Event> subscribe(int position) {
        BlockingQueue<Event> q = new LinkedBlockingQueue<>();
        subscribers.add(q);
        q.add(snapshot(position));
        return q;
    }

    void unsubscribe(BlockingQueue<Event> q) {
        subscribers.remove(q);
    }

    private Event snapshot(int position) {
        synchronized (this) {
            if (status.finished()) {
                Map<String, Object> d = new LinkedHashMap<>();
                d.put("id", id);
                if (status == Status.DONE) d.put("outputs", outputs.stream().map(Output::toJson).toList());
                else if (error != null) d.put("error", error);
                return new Event(status.json(), d);
            }
            if (status == Status.QUEUED) return new Event("queued", Map.of("id", id, "position", (long) position));
            if (steps == 0) return new Event("started", Map.of("id", id));
        }
        Map<String, Object> d = progressJson();
        d.put("id", id);
        return new Event("step", d);
    }

    void queued(int position) {
        publish(new Event("queued", Map.of("id", id, "position", (long) position)));
    }

    /**
     * Hands {@code e} to every subscriber. A subscriber that fell behind loses step events (a slow client must not
     * hold the worker or grow without bound) but never the final one.
     */
    private void publish(Event e) {
        for (BlockingQueue<Event> q : subscribers) {
            if (q.size() >= SUBSCRIBER_BACKLOG) {
                if (!e.terminal()) continue;
                q.clear();
            }
            q.add(e);
        }
    }

    synchronized Map<String, Object> progressJson() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("image", (long) image);
        p.put("images", (long) spec.count());
        p.put("step", (long) step);
        p.put("steps", (long) steps);
        p.put("fraction", fraction());
        p.put("eta_seconds", Double.isNaN(etaSeconds) ? null : etaSeconds);
        return p;
    }

    /** The job as the native API and the journal show it; {@code position} counts from 0 while queued. */
    synchronized Map<String, Object> toJson(int position) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("seq", seq);
        m.put("status", status.json());
        if (status == Status.QUEUED) m.put("position", (long) position);
        m.put("created", created);
        m.put("started", started == 0 ? null : started);
        m.put("finished", finished == 0 ? null : finished);
        m.put("request", spec.toJson());
        if (status == Status.RUNNING) m.put("progress", progressJson());
        m.put("outputs", outputs.stream().map(Output::toJson).toList());
        m.put("error", error);
        return m;
    }

    /** Restores the state the journal recorded (outputs already written, a final status). */
    synchronized void restore(Status s, List<Output> done, String err, long startedAt, long finishedAt) {
        status = s;
        outputs.clear();
        outputs.addAll(done);
        error = err;
        started = startedAt;
        finished = finishedAt;
    }
}
