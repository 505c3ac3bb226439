package fluxj.memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where components live while they compute. The planner budgets one device's memory; a GPU backend would add a
 * permitted type with its own capacity and transfer costs. Only the CPU exists today.
 */
public sealed interface Device permits Device.Cpu {

    String name();

    /** Memory the device has in all. */
    long capacityBytes();

    /** The budget used when the user names none: what the device has, minus headroom for the OS and page cache. */
    default long defaultBudget() {
        long cap = capacityBytes();
        return cap - Math.max(2L << 30, cap / 8);
    }

    /** Host memory: weights are mapped files, activations live on the Java heap. */
    record Cpu(long capacityBytes) implements Device {
        public static Cpu detect() {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                    if (line.startsWith("MemTotal:")) {
                        return new Cpu(Long.parseLong(line.replaceAll("\\D+", "")) * 1024);
                    }
                }
            } catch (IOException | RuntimeException ignored) {
                // not Linux: fall back to the JVM's view of physical memory
            }
            var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            return new Cpu(os.getTotalMemorySize());
        }

        @Override
        public String name() { return "cpu"; }
    }
}
