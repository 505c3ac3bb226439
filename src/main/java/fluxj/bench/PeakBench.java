package fluxj.bench;

import fluxj.io.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code fluxj bench peak}: the CPU's f32 FMA, bf16 dot-product and AMX bf16 peaks on all cores ({@link Peaks}),
 * the limits the other benchmarks' rows are fractions of, and how quiet the machine was meanwhile.
 */
@Command(name = "peak", mixinStandardHelpOptions = true,
        description = "The CPU's f32 FMA and bf16 dot-product peaks on all cores (the limits other rows are fractions of).")
public final class PeakBench implements Runnable {
    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    @Override
    public void run() {
        Peaks p = Peaks.get();
        if (json) System.out.println(Json.write(p.toMap()));
        else p.describe().forEach(System.out::println);
    }
}
