package fluxj.memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The process's resident memory as the kernel counts it (mapped weight pages included), from /proc. */
public final class ProcessMemory {
    private ProcessMemory() {}

    /** Current resident set size in bytes, or -1 where /proc is not available. */
    public static long rss() { return field("VmRSS:"); }

    /** Peak resident set size in bytes since the process started, or -1. */
    public static long peakRss() { return field("VmHWM:"); }

    private static long field(String name) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(name)) return Long.parseLong(line.replaceAll("\\D+", "")) * 1024;
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
