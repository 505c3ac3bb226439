package fluxj.batch;

import fluxj.io.Json;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The results file: one JSON object per row and run, appended and flushed as each row ends, so a killed run keeps
 * every line it wrote. A resumed run appends its own lines (rows found done are {@code skipped}); the last line
 * for an id is its current state.
 */
public final class ResultsLog implements AutoCloseable {
    private final BufferedWriter out;

    public ResultsLog(Path file) throws IOException {
        out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    public void add(RowResult r) throws IOException {
        out.write(Json.write(r.toJson()));
        out.write('\n');
        out.flush();
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
