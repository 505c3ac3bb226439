package fluxj.cli;

import fluxj.pipeline.Infotext;
import fluxj.pipeline.PngFiles;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code fluxj info out.png}: the generation parameters stored in a PNG. */
@Command(name = "info", description = "Print the generation parameters stored in PNG images (fluxj's or other tools' 'parameters' text).")
final class InfoCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "PNG", arity = "1..*", description = "Images to read.")
    java.util.List<Path> files;

    @Override
    public Integer call() throws IOException {
        var out = spec.commandLine().getOut();
        int missing = 0;
        for (Path f : files) {
            var text = PngFiles.readParameters(f);
            if (files.size() > 1) out.println("== " + f);
            if (text.isEmpty()) {
                spec.commandLine().getErr().println("fluxj: " + f + " holds no generation parameters");
                missing++;
                continue;
            }
            Infotext info = Infotext.parse(text.get());
            out.println("Prompt: " + info.prompt());
            if (!info.negativePrompt().isEmpty()) out.println("Negative prompt: " + info.negativePrompt());
            info.fields().forEach((k, v) -> out.println(k + ": " + v));
        }
        return missing == 0 ? 0 : 1;
    }
}
