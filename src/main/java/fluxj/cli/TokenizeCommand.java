package fluxj.cli;

import fluxj.io.Json;
import fluxj.tensor.ModelFormatException;
import fluxj.text.ClipTokenizer;
import fluxj.text.T5Tokenizer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** {@code fluxj tokenize}: the CLIP and T5 ids of a text, as one JSON object {@code {"clip": [...], "t5": [...]}}. */
@Command(name = "tokenize", mixinStandardHelpOptions = true, description = "Print the CLIP and T5 token ids of TEXT as JSON (with start/end tokens, before padding).")
public final class TokenizeCommand implements Runnable {
    /** CLIP-L's context length: the pipeline always truncates CLIP to it. */
    private static final int CLIP_LENGTH = 77;

    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR", description = "A diffusers model folder (tokenizers in tokenizer/ and tokenizer_2/).")
    Path model;

    @Option(names = "--clip-tokenizer", paramLabel = "DIR|FILE", description = "CLIP tokenizer: folder with vocab.json + merges.txt, or a tokenizer.json.")
    Path clip;

    @Option(names = "--t5-tokenizer", paramLabel = "DIR|FILE", description = "T5 tokenizer: spiece.model, tokenizer.json, or a folder holding one.")
    Path t5;

    @Option(names = "--max-length", paramLabel = "N", description = "Truncate as the pipeline does: T5 to N ids (256 schnell, 512 dev), CLIP to 77.")
    Integer maxLength;

    @Parameters(index = "0", paramLabel = "TEXT", description = "The prompt.")
    String text;

    @Override
    public void run() {
        if (model != null && (clip != null || t5 != null))
            throw new CommandLine.ParameterException(spec.commandLine(), "--model excludes --clip-tokenizer and --t5-tokenizer");
        if (model == null && clip == null && t5 == null)
            throw new CommandLine.ParameterException(spec.commandLine(), "give --model DIR, or --clip-tokenizer and/or --t5-tokenizer");
        if (maxLength != null && maxLength < 1)
            throw new CommandLine.ParameterException(spec.commandLine(), "--max-length must be at least 1");
        if (model != null) {
            if (!Files.isDirectory(model.resolve("tokenizer")) || !Files.isDirectory(model.resolve("tokenizer_2")))
                throw new ModelFormatException(model.toString(), "not a diffusers model folder (tokenizer/ and tokenizer_2/ expected)");
            clip = model.resolve("tokenizer");
            t5 = model.resolve("tokenizer_2");
        }
        Map<String, int[]> out = new LinkedHashMap<>();
        if (clip != null) {
            ClipTokenizer tok = ClipTokenizer.load(clip);
            out.put("clip", maxLength == null ? tok.encode(text) : tok.encodeTruncated(text, CLIP_LENGTH));
        }
        if (t5 != null) {
            T5Tokenizer tok = T5Tokenizer.load(t5);
            out.put("t5", maxLength == null ? tok.encode(text) : tok.encodeTruncated(text, maxLength));
        }
        spec.commandLine().getOut().println(Json.write(out));
        spec.commandLine().getOut().flush();
    }
}
