package fluxj.cli;

import fluxj.gguf.GgufConverter;
import fluxj.io.Checkpoint;
import fluxj.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code fluxj convert IN OUT.gguf --type q8_0}: a FLUX transformer as a city96-layout GGUF file. */
@Command(name = "convert", mixinStandardHelpOptions = true, description = {
        "Write a FLUX transformer (.safetensors or .gguf, BFL names) as a GGUF file in city96's layout, as ComfyUI-GGUF and "
                + "stable-diffusion.cpp read it. Blocks are byte for byte those of ggml's reference quantizers."})
public final class ConvertCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IN", description = "The transformer: .safetensors file, index or folder, or .gguf.")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT.gguf", description = "The GGUF file to write.")
    Path out;

    @Option(names = "--type", required = true, paramLabel = "q8_0|q5_1|q5_0|q4_1|q4_0|bf16|f16",
            description = "Type of the weight matrices (1-D tensors are F32; for quantized types img_in, txt_in, time_in, "
                    + "vector_in, guidance_in and final_layer keep their source dtype).")
    String type;

    @Option(names = "--overwrite", description = "Replace OUT if it exists.")
    boolean overwrite;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        DType dt = GgufConverter.parseType(type);
        if (!out.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".gguf")) {
            throw new IllegalArgumentException("the output must be a .gguf file, not " + out);
        }
        if (Files.exists(out) && !overwrite) throw new IllegalArgumentException(out + " exists; add --overwrite to replace it");
        if (Files.exists(out) && Files.isSameFile(in, out)) throw new IllegalArgumentException("the output would replace the input " + in);
        long start = System.nanoTime();
        try (Checkpoint ck = Checkpoint.open(in)) {
            GgufConverter.convert(ck, out, dt);
        }
        spec.commandLine().getErr().printf("converted %s to %s in %.1f s%n", in, dt, (System.nanoTime() - start) / 1e9);
        spec.commandLine().getOut().println(out);
        return 0;
    }
}
