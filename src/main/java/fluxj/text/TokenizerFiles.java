package fluxj.text;

import fluxj.io.Json;
import fluxj.tensor.ModelFormatException;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reading tokenizer text files, with malformed content reported against the file. */
final class TokenizerFiles {
    private TokenizerFiles() {}

    static String readUtf8(Path file) throws IOException {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new ModelFormatException(file.toString(), "not UTF-8 text");
        }
    }

    static Object readJson(Path file) throws IOException {
        try {
            return Json.parse(readUtf8(file));
        } catch (Json.JsonException e) {
            throw new ModelFormatException(file.toString(), "invalid JSON: " + e.getMessage());
        }
    }
}
