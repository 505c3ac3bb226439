package fluxj.server;

import fluxj.condition.ImageConditioning;
import fluxj.pipeline.FluxPipeline;
import fluxj.pipeline.ModelInfo;
import fluxj.pipeline.GenerationCancelledException;
import fluxj.pipeline.GenerationRequest;
import fluxj.pipeline.GenerationResult;
import fluxj.pipeline.PngFiles;
import fluxj.pipeline.ProgressListener;
import fluxj.pipeline.RgbImage;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Accepted jobs, run one at a time in arrival order on one worker thread (a job already uses every core). The
 * queue holds at most {@code capacity} waiting jobs; more are refused (429). Every change of a job's state is
 * journaled before it is reported, outputs are written (temp file + rename) before the job says they exist, and
 * {@link #close()} lets the running job finish while queued ones stay journaled for the next start.
 */
final class JobQueue implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(JobQueue.class.getName());
    static final Pattern ID = Pattern.compile("[0-9a-f]{16}");
    private static final SecureRandom RANDOM = new SecureRandom();
    /** Finished jobs kept in memory for status queries and the gallery (their files stay in the journal). */
    private static final int HISTORY = 200;

    private final Models models;
    private final Path outputDir;
    private final Journal journal;
    private final int capacity;
    private final Limits limits;
    private final ServeSettings settings;
    private final Map<String, Job> jobs = new LinkedHashMap<>();
    private final ArrayDeque<Job> queue = new ArrayDeque<>();
    private Job running;
    private long nextSeq;
    private boolean accepting, stopping;
    private double secondsPerJob = Double.NaN;
    private Thread worker;

    JobQueue(Models models, Path outputDir, int capacity, Limits limits, ServeSettings settings) throws IOException {
        if (capacity < 1) throw new IllegalArgumentException("the queue size must be at least 1, got " + capacity);
        this.models = models;
        this.outputDir = Files.createDirectories(outputDir).toRealPath();
        this.journal = new Journal(this.outputDir.resolve(".jobs"));
        this.capacity = capacity;
        this.limits = limits;
        this.settings = settings;
    }

    Path outputDir() { return outputDir; }

    Models models() { return models; }

    /** Reads the journal (finished jobs for history, unfinished ones queued again in their order) and starts the worker. */
    synchronized void start() throws IOException {
        for (Job j : journal.load(models.current(), limits)) {
            jobs.put(j.id, j);
            nextSeq = Math.max(nextSeq, j.seq + 1);
            if (!j.status().finished()) {
                j.restore(Job.Status.QUEUED, j.outputs(), null, 0, 0);
                queue.add(j);
            }
        }
        if (!queue.isEmpty()) LOG.log(System.Logger.Level.INFO, "resuming " + queue.size() + " journaled job(s)");
        trimHistory();
        accepting = true;
        worker = Thread.ofPlatform().name("fluxj-worker").start(this::work);
    }

    /** Accepts a job, or refuses it: 429 with Retry-After when the queue is full, 503 while shutting down. */
    synchronized Job submit(JobSpec spec) {
        ModelInfo info = models.infoIfOpen(spec.model());
        if (info != null) {
            // what the model cannot take is refused now (400), not found out when the job runs
            try {
                ImageConditioning.check(spec.requestFor(info).conditions(), info.input());
            } catch (IllegalArgumentException e) {
                throw ApiException.invalid(null, e.getMessage());
            }
        }
        if (!accepting) throw new ApiException(503, null, "the server is shutting down", Map.of("Retry-After", "30"));
        if (queue.size() >= capacity) {
            long retry = Math.max(1, Math.round((Double.isNaN(secondsPerJob) ? 10 : secondsPerJob) * (queue.size() + 1)));
            throw new ApiException(429, null, "the queue is full (" + capacity + " jobs waiting); retry in about " + retry + " s",
                    Map.of("Retry-After", Long.toString(retry)));
        }
        String id;
        do {
            byte[] b = new byte[8];
            RANDOM.nextBytes(b);
            id = HexFormat.of().formatHex(b);
        } while (jobs.containsKey(id));
        Job job = new Job(id, nextSeq++, spec, System.currentTimeMillis());
        journal.write(job);
        jobs.put(id, job);
        queue.add(job);
        trimHistory();
        notifyAll();
        return job;
    }

    synchronized Job job(String id) { return jobs.get(id); }

    /** The most recent jobs first. */
    synchronized List<Job> recent(int max) {
        List<Job> all = new ArrayList<>(jobs.values());
        List<Job> out = new ArrayList<>();
        for (int i = all.size() - 1; i >= 0 && out.size() < max; i--) out.add(all.get(i));
        return out;
    }

    /** 0 for the next job to run, -1 when not waiting. */
    synchronized int position(Job job) {
        int i = 0;
        for (Job q : queue) {
            if (q == job) return i;
            i++;
        }
        return -1;
    }

    synchronized int queued() { return queue.size(); }

    /** The job being worked on; null when idle, also in the moment between a job's end and the worker's next take. */
    synchronized Job running() {
        return running == null || running.status().finished() ? null : running;
    }

    /** Cancels a job: a queued one leaves the queue, a running one stops after its current step. */
    Job cancel(String id) {
        Job job;
        synchronized (this) {
            job = jobs.get(id);
            if (job == null) return null;
            job.requestCancel();
            if (!queue.remove(job)) return job;
            job.finish(Job.Status.CANCELLED, null, System.currentTimeMillis());
            journal.write(job);
            announcePositions();
        }
        return job;
    }

    /**
     * Stops the running job after its current step (A1111's interrupt): a job whose spec finishes interrupted
     * images keeps the current one as it is at that step, others are cancelled. False when none runs.
     */
    synchronized boolean interrupt() {
        if (running == null) return false;
        if (running.spec.finishInterrupted()) running.requestInterrupt();
        else running.requestCancel();
        return true;
    }

    /** Stops the running job's current image; the job goes on with its next one (A1111's skip). */
    synchronized boolean skip() {
        if (running == null) return false;
        running.requestSkip();
        return true;
    }

    /** Graceful shutdown: no more jobs accepted, the running one finishes, queued ones stay journaled. */
    @Override
    public void close() {
        Thread w;
        synchronized (this) {
            accepting = false;
            stopping = true;
            notifyAll();
            w = worker;
        }
        if (w != null) {
            try {
                w.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void work() {
        while (true) {
            Job job;
            synchronized (this) {
                while (queue.isEmpty() && !stopping) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (stopping) return;
                job = queue.poll();
                running = job;
                announcePositions();
            }
            long start = System.nanoTime();
            try {
                run(job);
            } finally {
                synchronized (this) {
                    running = null;
                    double s = (System.nanoTime() - start) / 1e9;
                    secondsPerJob = Double.isNaN(secondsPerJob) ? s : 0.7 * secondsPerJob + 0.3 * s;
                    trimHistory();
                }
            }
        }
    }

    private void announcePositions() {
        int i = 0;
        for (Job q : queue) q.queued(i++);
    }

    private void trimHistory() {
        var it = jobs.values().iterator();
        int excess = jobs.size() - HISTORY;
        while (excess > 0 && it.hasNext()) {
            Job j = it.next();
            if (j.status().finished()) {
                it.remove();
                excess--;
            }
        }
    }

    private void run(Job job) {
        job.started(System.currentTimeMillis());
        journal.write(job);
        Job.Status end = Job.Status.DONE;
        String error = null;
        try {
            FluxPipeline pipeline = models.pipeline(job.spec.model());
            GenerationRequest base = job.spec.requestFor(pipeline.model()).toBuilder().memoryBudget(settings.memoryBudget()).weightDtype(settings.weightDtype()).build();
            for (int i = 0; i < job.spec.count(); i++) {
                if (job.cancelRequested() || job.interruptRequested()) break;
                String file = job.id + "-" + i + ".png";
                if (job.outputs().stream().anyMatch(o -> o.file().equals(file))) continue;
                Path out = outputDir.resolve(file);
                long seed = base.seed() + i;
                if (Files.isRegularFile(out)) {
                    // written (atomically, so whole) before a restart the journal did not see: keep it
                    job.output(new Job.Output(file, seed, PngFiles.readParameters(out).orElse("")));
                    journal.write(job);
                    continue;
                }
                job.imageStarted(i);
                GenerationResult result;
                try {
                    result = pipeline.generate(base.withSeed(seed), listener(job, i, pipeline.model().latentChannels(), base));
                } catch (GenerationCancelledException e) {
                    if (job.cancelRequested()) break;
                    job.takeSkip();
                    continue;
                }
                result.writePng(out);
                models.noteHash(job.spec.model(), result.modelHash());
                job.output(new Job.Output(file, seed, result.infotext().format()));
                journal.write(job);
                // a skip that came after this image's last step is spent on it, not on the next (as A1111)
                job.takeSkip();
            }
            if (job.cancelRequested() || job.interruptRequested()) end = Job.Status.CANCELLED;
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            end = Job.Status.FAILED;
            error = describe(e);
            LOG.log(System.Logger.Level.WARNING, "job " + job.id + " failed: " + error);
        }
        job.finish(end, error, System.currentTimeMillis());
        try {
            journal.write(job);
        } catch (UncheckedIOException e) {
            LOG.log(System.Logger.Level.ERROR, e.getMessage());
        }
    }

    private static String describe(Throwable e) {
        Throwable c = e instanceof UncheckedIOException u ? u.getCause() : e;
        if (c instanceof OutOfMemoryError) return "out of Java heap memory; lower the image size or raise FLUXJ_HEAP_PERCENT";
        return c.getMessage() == null ? c.toString() : c.getMessage();
    }

    private static ProgressListener listener(Job job, int index, int channels, GenerationRequest r) {
        int h = r.height() / 16, w = r.width() / 16;
        return new ProgressListener() {
            @Override
            public void step(Step s) {
                // the step's clean estimate, not the noisy latent: AUTOMATIC1111's live preview shows the denoised prediction
                RgbImage p = Preview.of(s.denoised(), channels, h, w);
                job.step(index, s.step(), s.steps(), s.elapsedNanos() / 1e9 / s.step(), p == null ? null : Preview.png(p));
            }

            @Override
            public boolean cancelled() {
                return job.cancelRequested() || (!job.spec.finishInterrupted() && job.skipPending());
            }

            @Override
            public boolean finishEarly() {
                return job.spec.finishInterrupted() && (job.interruptRequested() || job.skipPending());
            }

            @Override
            public void warning(String message) {
                LOG.log(System.Logger.Level.WARNING, "job " + job.id + ": " + message);
            }
        };
    }
}
