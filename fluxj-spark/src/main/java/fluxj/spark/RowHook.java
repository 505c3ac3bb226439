package fluxj.spark;

import fluxj.batch.Manifest;

import java.io.Serializable;

/** Called on the executor before each row is worked on; an exception fails the task (Spark retries it). */
@FunctionalInterface
public interface RowHook extends Serializable {
    /** Writes a line per row to the executor's log. */
    RowHook LOG = row -> System.err.println("fluxj: row " + row.id() + " (line " + row.line() + ")");

    void before(Manifest.Row row) throws Exception;
}
