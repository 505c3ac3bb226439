package fluxj.server;

import fluxj.io.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Every accepted job as one JSON file ({@code <id>.json}), rewritten atomically (temp file + rename) on each change
 * of state: a restart reads them back and resumes the jobs that were queued or running.
 */
final class Journal {
    private static final System.Logger LOG = System.getLogger(Journal.class.getName());
    private final Path dir;

    Journal(Path dir) throws IOException {
        this.dir = Files.createDirectories(dir);
    }

    void write(Job job) {
        try {
            Path tmp = Files.createTempFile(dir, ".job-", ".part");
            try {
                Files.writeString(tmp, Json.write(job.toJson(0)), StandardCharsets.UTF_8);
                Files.move(tmp, dir.resolve(job.id + ".json"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the job journal in " + dir + ": " + e.getMessage(), e);
        }
    }

    /** The journaled jobs in the order they were accepted; unreadable files are reported and skipped. */
    List<Job> load(String defaultModel, Limits limits) throws IOException {
        List<Job> jobs = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.json")) {
            for (Path f : files) {
                try {
                    jobs.add(read(Json.readObject(f), defaultModel, limits));
                } catch (RuntimeException | IOException e) {
                    LOG.log(System.Logger.Level.WARNING, "ignoring the unreadable job file " + f + ": " + e.getMessage());
                }
            }
        }
        jobs.sort(Comparator.comparingLong(j -> j.seq));
        return jobs;
    }

    private static Job read(Map<String, Object> m, String defaultModel, Limits limits) throws IOException {
        Fields f = new Fields(m);
        String id = f.requiredString("id");
        if (!JobQueue.ID.matcher(id).matches()) throw new IllegalArgumentException("bad job id '" + id + "'");
        // the journal holds what was accepted under the limits of that time: read it back without today's bounds
        Limits open = new Limits(Integer.MAX_VALUE / 2, Integer.MAX_VALUE / 2, Integer.MAX_VALUE / 2, limits.maxBodyBytes());
        Fields req = f.object("request");
        Job.Status status = Job.Status.valueOf(f.requiredString("status").toUpperCase(java.util.Locale.ROOT));
        // only a job that will run again needs its input images (read and hashed): a finished one is history
        List<?> conditions = status.finished() ? null : req.list("conditions");
        JobSpec spec = JobSpec.fromJson(req, defaultModel, open, conditions == null ? List.of() : JobSpec.conditionsFromJson(conditions),
                Boolean.TRUE.equals(req.bool("edit")));
        if (Boolean.TRUE.equals(req.bool("finish_interrupted"))) spec = spec.finishingInterrupted();
        Job job = new Job(id, f.integer("seq", 0, Long.MAX_VALUE), spec, f.integer("created", 0, Long.MAX_VALUE));
        List<Job.Output> outputs = new ArrayList<>();
        List<?> outs = f.list("outputs");
        if (outs != null) {
            for (Object o : outs) {
                Fields of = new Fields(castMap(o));
                outputs.add(new Job.Output(of.requiredString("file"), of.integer("seed", Long.MIN_VALUE, Long.MAX_VALUE), of.string("parameters", "")));
            }
        }
        Long started = f.integer("started", 0, Long.MAX_VALUE), finished = f.integer("finished", 0, Long.MAX_VALUE);
        job.restore(status, outputs, f.string("error", null), started == null ? 0 : started, finished == null ? 0 : finished);
        return job;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> castMap(Object o) {
        if (o instanceof Map) return (Map<String, Object>) o;
        throw new IllegalArgumentException("an output is not a JSON object");
    }
}
