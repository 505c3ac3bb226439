package fluxj.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How quiet the machine was while a benchmark ran: the CPU time every process took (Linux {@code /proc/stat})
 * minus this process's own ({@code /proc/self/stat}), over the same interval. A timing is worth what this says:
 * other processes taking turns on the cores lengthen wall-clock times in proportion.
 */
public final class CpuLoad {
    /** Linux reports both files in USER_HZ ticks, 100 per second on every architecture it exports to user space. */
    private static final double TICKS_PER_SECOND = 100;

    private CpuLoad() {}

    /** A reading: wall clock, busy ticks of all CPUs, ticks of this process (-1 each where /proc is unreadable). */
    public record Mark(long nanos, long busyTicks, long selfTicks) {}

    /** What happened between two marks. */
    public record Interval(double wallSeconds, double selfCpuSeconds, double othersCpuSeconds, int cores) {
        /** Whether /proc could be read at both ends. */
        public boolean known() { return !Double.isNaN(othersCpuSeconds); }

        /** Other processes' CPU time as a share of all the cores over the interval (0 = quiet, 1 = cores fully taken). */
        public double othersShare() { return othersCpuSeconds / (wallSeconds * cores); }

        /** E.g. "others 0.4 CPU-s in 12.3 s (1.6% of 2 cores)". */
        public String describe() {
            if (!known()) return "others unknown (no /proc/stat)";
            return String.format("others %.1f CPU-s in %.1f s (%.1f%% of %d cores)", othersCpuSeconds, wallSeconds,
                    100 * othersShare(), cores);
        }

        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("wall_seconds", wallSeconds);
            m.put("own_cpu_seconds", known() ? selfCpuSeconds : null);
            m.put("others_cpu_seconds", known() ? othersCpuSeconds : null);
            m.put("others_share_of_cores", known() ? othersShare() : null);
            m.put("cores", cores);
            return m;
        }
    }

    public static Mark mark() {
        return new Mark(System.nanoTime(), busyTicks(read(Path.of("/proc/stat"))), selfTicks(read(Path.of("/proc/self/stat"))));
    }

    /** From {@code start} to now. */
    public static Interval since(Mark start) {
        return between(start, mark(), Runtime.getRuntime().availableProcessors());
    }

    static Interval between(Mark a, Mark b, int cores) {
        double wall = (b.nanos() - a.nanos()) / 1e9;
        if (a.busyTicks() < 0 || b.busyTicks() < 0 || a.selfTicks() < 0 || b.selfTicks() < 0) {
            return new Interval(wall, Double.NaN, Double.NaN, cores);
        }
        double self = (b.selfTicks() - a.selfTicks()) / TICKS_PER_SECOND;
        double all = (b.busyTicks() - a.busyTicks()) / TICKS_PER_SECOND;
        // Both counters advance in whole ticks, sampled a moment apart: a small negative difference is rounding.
        return new Interval(wall, self, Math.max(0, all - self), cores);
    }

    /**
     * Busy ticks of all CPUs from the first line of /proc/stat ("cpu user nice system idle iowait irq softirq steal
     * guest guest_nice"): everything but idle and iowait; guest time is already inside user and nice. Steal (time
     * the hypervisor gave to other machines) counts as taken by others.
     */
    static long busyTicks(String stat) {
        if (stat == null || !stat.startsWith("cpu ")) return -1;
        String[] f = stat.substring(0, stat.indexOf('\n') < 0 ? stat.length() : stat.indexOf('\n')).trim().split("\\s+");
        if (f.length < 8) return -1;
        long busy = 0;
        for (int i = 1; i < Math.min(f.length, 9); i++) if (i != 4 && i != 5) busy += Long.parseLong(f[i]);
        return busy;
    }

    /**
     * utime + stime + cutime + cstime of /proc/self/stat (fields 14 to 17: this process and the children it has
     * waited for, such as the peak probe; the command name before them may hold spaces).
     */
    static long selfTicks(String stat) {
        if (stat == null) return -1;
        int close = stat.lastIndexOf(')');
        if (close < 0) return -1;
        String[] f = stat.substring(close + 1).trim().split("\\s+");
        // After the name: state is field 3, so fields 14 to 17 are at 11 to 14 here.
        if (f.length < 15) return -1;
        return Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14]);
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
