package fluxj.cli;

import fluxj.memory.ByteSize;
import fluxj.memory.MemoryPlan;
import fluxj.pipeline.HubClient;
import fluxj.pipeline.ProgressListener;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * What the generate command shows while it works: a redrawn bar with step, s/it and ETA on a terminal, plain lines
 * otherwise (logs, pipes), nothing but warnings with --quiet. Download progress likewise.
 */
final class Progress implements ProgressListener, HubClient.Listener {
    private final PrintWriter err;
    private final boolean terminal, quiet;
    private String prefix = "";
    private long lastDownloadLine;

    /** A command's work, run under {@link #logLevel}. */
    @FunctionalInterface
    interface Work {
        int run() throws IOException;
    }

    /**
     * Runs {@code work} with only warnings and errors logged when {@code quiet} (informational lines such as which
     * matmul runs too), and puts the level back afterwards, as the CLI may run inside another program (and the tests).
     */
    static int logLevel(boolean quiet, Work work) throws IOException {
        Logger root = Logger.getLogger("");
        Level before = root.getLevel();
        if (quiet) root.setLevel(Level.WARNING);
        try {
            return work.run();
        } finally {
            root.setLevel(before);
        }
    }

    Progress(PrintWriter err, boolean terminal, boolean quiet) {
        this.err = err;
        this.terminal = terminal;
        this.quiet = quiet;
    }

    void image(int index, int count, long seed, boolean randomSeed) {
        prefix = count > 1 ? "image " + (index + 1) + "/" + count + ": " : "";
        if (!quiet) line(prefix + "seed " + seed + (randomSeed ? " (random)" : ""));
    }

    void line(String s) {
        err.println(s);
        err.flush();
    }

    @Override
    public void plan(MemoryPlan plan) {
        if (quiet) return;
        MemoryPlan.Entry t = plan.entry("transformer");
        line(prefix + String.format(Locale.ROOT, "memory plan: predicted peak %s of a %s budget; transformer %s as %s%s (./fluxj plan shows it all)",
                ByteSize.format(plan.peak()), ByteSize.format(plan.budget()),
                t.residency() == MemoryPlan.Residency.STREAMED ? "streamed" : "resident",
                t.component().residentDtype(t.dtype()),
                plan.keepAll() ? ", all parts kept loaded" : ", parts loaded and released in turn"));
    }

    @Override
    public void stage(Stage stage) {
        if (quiet || stage == Stage.DENOISING) return;
        line(prefix + switch (stage) {
            case ENCODING_PROMPT -> "encoding the prompt";
            case DECODING -> "decoding the image";
            case DENOISING -> "denoising";
        });
    }

    @Override
    public void step(Step s) {
        if (quiet) return;
        double secsPerIt = s.elapsedNanos() / 1e9 / s.step();
        double eta = secsPerIt * (s.steps() - s.step());
        String figures = String.format(Locale.ROOT, "step %d/%d  %.2f s/it  ETA %s%s", s.step(), s.steps(), secsPerIt, duration(eta),
                s.guided() ? "  (with negative pass)" : "");
        if (terminal) {
            int width = 24, filled = width * s.step() / s.steps();
            err.print("\r" + prefix + "[" + "#".repeat(filled) + ".".repeat(width - filled) + "] " + figures + "   ");
            if (s.step() == s.steps()) err.println();
            err.flush();
        } else {
            line(prefix + figures);
        }
    }

    @Override
    public void warning(String message) {
        if (terminal) err.print("\r");
        line("warning: " + message);
    }

    @Override
    public void message(String text) {
        if (!quiet) line(text);
    }

    @Override
    public void downloadStarted(String file, long resumedFrom, long total) {
        if (!quiet) line("downloading " + file + (total > 0 ? " (" + mb(total) + ")" : "") + (resumedFrom > 0 ? ", resuming at " + mb(resumedFrom) : ""));
    }

    @Override
    public void downloadProgress(String file, long done, long total) {
        if (quiet) return;
        if (terminal) {
            err.print("\r  " + mb(done) + (total > 0 ? " / " + mb(total) + String.format(Locale.ROOT, " (%.0f%%)", 100.0 * done / total) : "") + "   ");
            err.flush();
        } else if (done - lastDownloadLine >= (256L << 20) || done == total) {
            line("  " + file + ": " + mb(done) + (total > 0 ? " / " + mb(total) : ""));
            lastDownloadLine = done;
        }
    }

    @Override
    public void downloadDone(String file) {
        lastDownloadLine = 0;
        if (terminal && !quiet) err.println();
    }

    private static String mb(long bytes) {
        return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
    }

    static String duration(double secs) {
        long s = Math.round(secs);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
