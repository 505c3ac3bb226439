package fluxj.memory;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Makes the {@link MemoryPlan}: keep everything if it fits; else load and release components phase by phase;
 * else stream the largest streamable component of an over-budget phase block by block; else (if the user did
 * not forbid it by asking for stored weights explicitly) convert the transformer to FP8. A plan that still
 * cannot fit says what would make it fit.
 */
public final class Planner {
    /**
     * What the process holds besides mapped weights and the activation estimate: JVM, code cache, metaspace,
     * thread stacks, GC headroom of the heap. Calibrated on the full-size benchmark runs, whose peak RSS came out
     * 0.25-0.5 GiB above the mapped weights plus the workspace estimate.
     */
    public static final long JVM_BASELINE = 640L << 20;
    /** Blocks resident while streaming: the one computing and the one being prefetched. */
    public static final int PREFETCH_WINDOW = 2;

    private Planner() {}

    /**
     * @param dtype     the user's --weight-dtype
     * @param explicit  whether the user named the dtype (then it is never changed behind their back)
     */
    public static MemoryPlan plan(Device device, long budget, List<Component> components, WeightDtype dtype, boolean explicit) {
        MemoryPlan p = attempt(device, budget, components, dtype);
        if (!p.fits() && dtype == WeightDtype.STORED && !explicit && components.stream().anyMatch(Component::convertible)) {
            MemoryPlan fp8 = attempt(device, budget, components, WeightDtype.FP8);
            if (fp8.fits()) {
                List<String> advice = new ArrayList<>(fp8.advice());
                advice.add("the transformer is converted to FP8 at load because its stored dtype does not fit the budget");
                return new MemoryPlan(fp8.device(), fp8.budget(), fp8.entries(), fp8.phasePeaks(), fp8.baselineBytes(), fp8.keepAll(), advice);
            }
        }
        return p;
    }

    private static MemoryPlan attempt(Device device, long budget, List<Component> components, WeightDtype dtype) {
        List<MemoryPlan.Entry> entries = new ArrayList<>();
        for (Component c : components) {
            WeightDtype d = c.convertible() ? dtype : WeightDtype.STORED;
            entries.add(new MemoryPlan.Entry(c, d, MemoryPlan.Residency.RESIDENT, c.weightBytes(d), c.blockCount()));
        }
        long all = JVM_BASELINE + entries.stream().mapToLong(MemoryPlan.Entry::residentBytes).sum()
                + components.stream().mapToLong(Component::workspaceBytes).max().orElse(0);
        if (all <= budget) {
            Map<Phase, Long> peaks = new EnumMap<>(Phase.class);
            for (Component c : components) peaks.put(c.phase(), all);
            return new MemoryPlan(device, budget, entries, peaks, JVM_BASELINE, true, List.of());
        }
        Map<Phase, Long> peaks = phasePeaks(entries);
        for (Phase ph : Phase.values()) {
            if (peaks.getOrDefault(ph, 0L) <= budget) continue;
            entries.stream().filter(e -> e.component().phase() == ph && e.component().streamable())
                    .max((a, b) -> Long.compare(a.residentBytes(), b.residentBytes()))
                    .ifPresent(e -> entries.set(entries.indexOf(e), streamed(e)));
        }
        peaks = phasePeaks(entries);
        MemoryPlan p = new MemoryPlan(device, budget, entries, peaks, JVM_BASELINE, false, List.of());
        return p.fits() ? p : withAdvice(p, dtype);
    }

    private static MemoryPlan.Entry streamed(MemoryPlan.Entry e) {
        Component c = e.component();
        long fixed = e.residentBytes() - c.blocksBytes(e.dtype());
        return new MemoryPlan.Entry(c, e.dtype(), MemoryPlan.Residency.STREAMED, fixed + c.blockBytes(e.dtype()) * PREFETCH_WINDOW, PREFETCH_WINDOW);
    }

    private static Map<Phase, Long> phasePeaks(List<MemoryPlan.Entry> entries) {
        Map<Phase, Long> weights = new EnumMap<>(Phase.class), work = new EnumMap<>(Phase.class), peaks = new EnumMap<>(Phase.class);
        for (MemoryPlan.Entry e : entries) {
            Phase ph = e.component().phase();
            weights.merge(ph, e.residentBytes(), Long::sum);
            work.merge(ph, e.component().workspaceBytes(), Math::max);
        }
        for (Phase ph : weights.keySet()) peaks.put(ph, JVM_BASELINE + weights.get(ph) + work.get(ph));
        return peaks;
    }

    private static MemoryPlan withAdvice(MemoryPlan p, WeightDtype dtype) {
        List<String> advice = new ArrayList<>();
        advice.add("a budget of at least " + ByteSize.format(p.peak()) + " would fit this plan (--memory-budget)");
        boolean convertible = p.entries().stream().anyMatch(e -> e.component().shrinks(WeightDtype.FP8));
        if (dtype == WeightDtype.STORED && convertible) {
            advice.add("--weight-dtype fp8 halves the transformer's weight memory");
        }
        for (var ph : p.phasePeaks().entrySet()) {
            if (ph.getValue() <= p.budget()) continue;
            for (MemoryPlan.Entry e : p.entries()) {
                Component c = e.component();
                if (c.phase() != ph.getKey()) continue;
                if (c.name().startsWith("t5") && c.fileBytes() > (2L << 30)) {
                    advice.add("DistillT5 (--t5 with a DistillT5 checkpoint) needs ~50x less memory than " + c.name());
                }
                if (c.workspaceBytes() > p.budget() / 4) {
                    advice.add(c.name() + " needs " + ByteSize.format(c.workspaceBytes()) + " of activations at this size: a smaller --width/--height lowers it");
                }
            }
        }
        return new MemoryPlan(p.device(), p.budget(), p.entries(), p.phasePeaks(), p.baselineBytes(), p.keepAll(), advice);
    }
}
