package fluxj.cli;

import picocli.CommandLine.Command;

/** {@code fluxj plan}: the memory plan a {@code generate} with the same options would run under, without running. */
@Command(name = "plan", sortOptions = false, usageHelpAutoWidth = true,
        description = {"Print the memory plan of a generation (the same options as generate; --output not needed).",
                "Exit codes: 0 the plan fits the budget, 1 it does not (the plan says what would fit), 2 bad arguments."})
final class PlanCommand extends GenerateCommand {
    @Override
    boolean planOnly() { return true; }
}
