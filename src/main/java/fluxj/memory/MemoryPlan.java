package fluxj.memory;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The decisions made before a run: for each component its resident dtype, whether it is fully resident or
 * streamed block by block, and when it is loaded and released; and the predicted peak per phase.
 *
 * @param keepAll true when everything fits at once, so components stay loaded across images (no re-mapping)
 */
public record MemoryPlan(Device device, long budget, List<Entry> entries, Map<Phase, Long> phasePeaks,
                         long baselineBytes, boolean keepAll, List<String> advice) {

    public enum Residency { RESIDENT, STREAMED }

    /** One component's decision; {@code residentBytes} is its weight memory at its phase's peak. */
    public record Entry(Component component, WeightDtype dtype, Residency residency, long residentBytes, int prefetchBlocks) {}

    public long peak() { return phasePeaks.values().stream().mapToLong(Long::longValue).max().orElse(baselineBytes); }

    public boolean fits() { return peak() <= budget; }

    public Entry entry(String name) {
        return entries.stream().filter(e -> e.component().name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no component '" + name + "' in the plan"));
    }

    /** The plan as the user reads it before a run. */
    public String render() {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "Memory plan: budget %s on %s (%s in all)%n", ByteSize.format(budget),
                device.name(), ByteSize.format(device.capacityBytes())));
        b.append(String.format(Locale.ROOT, "  %-12s %10s %-8s %-8s %10s %10s  %-9s %s%n",
                "component", "file", "stored", "as", "resident", "workspace", "residency", "loaded .. released"));
        for (Entry e : entries) {
            Component c = e.component();
            String when = keepAll ? "before " + c.phase().label() + " .. end of run"
                    : "before " + c.phase().label() + " .. after it";
            String res = e.residency() == Residency.STREAMED
                    ? "streamed (" + e.prefetchBlocks() + " of " + c.blockCount() + " blocks resident)" : "resident";
            b.append(String.format(Locale.ROOT, "  %-12s %10s %-8s %-8s %10s %10s  %-9s %s%n", c.name(),
                    ByteSize.format(c.fileBytes()), c.storedDtype(), c.residentDtype(e.dtype()),
                    ByteSize.format(e.residentBytes()), ByteSize.format(c.workspaceBytes()), res, when));
        }
        for (var p : phasePeaks.entrySet()) {
            b.append(String.format(Locale.ROOT, "  peak while %-15s %10s%n", p.getKey().label(), ByteSize.format(p.getValue())));
        }
        b.append(String.format(Locale.ROOT, "  predicted peak %s (incl. %s for the JVM): %s%n", ByteSize.format(peak()),
                ByteSize.format(baselineBytes), fits() ? "fits the budget" : "DOES NOT FIT the budget"));
        for (String a : advice) b.append("  - ").append(a).append(System.lineSeparator());
        return b.toString();
    }

    static Map<Phase, Long> emptyPeaks() { return new EnumMap<>(Phase.class); }

    static List<String> list() { return new ArrayList<>(); }
}
