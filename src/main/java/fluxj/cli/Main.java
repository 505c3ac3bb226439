package fluxj.cli;

import fluxj.tensor.ModelFormatException;
import fluxj.tensor.onednn.MatmulBackend;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;

/**
 * Entry point of the fluxj command line. Errors a user can act on print as one line and exit non-zero;
 * {@code --debug} adds the stack trace.
 *
 * <p>Exit codes: 0 success, 1 runtime failure (bad model file, I/O error), 2 bad command-line usage,
 * 3 launcher problems (no JDK 25, build failed; see the {@code fluxj} script).
 */
@Command(name = "fluxj", mixinStandardHelpOptions = true, version = "fluxj 0.1.0",
        description = "FLUX.1 text-to-image in pure Java.",
        subcommands = {GenerateCommand.class, InfoCommand.class, BenchCommand.class, InspectCommand.class, DevCommand.class, TokenizeCommand.class, PlanCommand.class, ConvertCommand.class})
public final class Main implements Runnable {
    @Option(names = "--debug", description = "Print stack traces of errors.", scope = CommandLine.ScopeType.INHERIT)
    boolean debug;

    @Option(names = "--matmul", paramLabel = "java|onednn|auto", scope = CommandLine.ScopeType.INHERIT,
            description = "Matmul and convolution backend: java (exact f32, the default), onednn (bf16 through the system's "
                    + "oneDNN library) or auto (onednn when the library is present and the CPU has bf16 dot products).")
    void matmul(String mode) {
        MatmulBackend.select(mode);
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(new CommandLine(this), "a command is required (see --help)");
    }

    public static void main(String[] args) {
        // System.Logger goes to java.util.logging: one line per record, not its default two-line form.
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%4$s: %5$s%6$s%n");
        }
        System.exit(execute(args));
    }

    /** Runs the CLI and returns the exit code (used by tests, which must not exit the JVM). */
    public static int execute(String... args) {
        boolean debug = java.util.Arrays.asList(args).contains("--debug");
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (debug) ex.printStackTrace();
            cmd.getErr().println("fluxj: " + describe(ex));
            return ex instanceof CommandLine.ParameterException || ex instanceof IllegalArgumentException ? 2 : 1;
        });
        // Usage errors: what is wrong and where to read more, not the whole help page.
        cl.setParameterExceptionHandler((ex, params) -> {
            CommandLine cmd = ex.getCommandLine();
            cmd.getErr().println("fluxj: " + ex.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, cmd.getErr());
            cmd.getErr().println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for the options.");
            return 2;
        });
        return cl.execute(args);
    }

    /** One line a user can act on, for any failure. */
    static String describe(Throwable ex) {
        Throwable e = ex instanceof UncheckedIOException u ? u.getCause() : ex;
        return switch (e) {
            case NoSuchFileException n -> n.getFile() + ": no such file or folder";
            case ModelFormatException m -> m.getMessage();
            case IOException io -> io.getMessage() == null ? io.toString() : io.getMessage();
            case OutOfMemoryError oom -> "out of Java heap memory (" + oom.getMessage() + "); raise FLUXJ_HEAP_PERCENT or lower the image size";
            default -> e.getMessage() == null ? e.toString() : e.getMessage();
        };
    }
}
