package fluxj.cli;

import picocli.CommandLine.Command;

/** {@code fluxj bench ...}: throughput benchmarks; each prints figures, or one JSON document with --json. */
@Command(name = "bench", description = "Benchmarks (figures as ratios against a reference measured in the same run).",
        subcommands = {fluxj.bench.PeakBench.class, fluxj.bench.GemmBench.class, fluxj.bench.TransformerBench.class, fluxj.bench.TextBench.class,
                fluxj.bench.VaeBench.class, fluxj.bench.EncodeBench.class, fluxj.bench.KontextBench.class, fluxj.bench.LoraBench.class,
                fluxj.bench.ImageBench.class})
public final class BenchCommand implements Runnable {
    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this), "name a benchmark (see fluxj bench --help)");
    }
}
