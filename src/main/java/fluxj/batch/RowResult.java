package fluxj.batch;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * What became of one manifest row; a line of the results file.
 *
 * @param file    where the image is (null when there is none)
 * @param seconds time to generate and store it, to the millisecond (null when skipped or refused)
 * @param sha256  hex SHA-256 of the PNG file's bytes
 * @param error   why the row failed or was refused (null otherwise)
 */
public record RowResult(String id, int line, Status status, String file, Long seed, Double seconds, String sha256, String error) {
    public enum Status {
        /** Made and stored now. */
        GENERATED,
        /** Its image already existed (an earlier or concurrent run made it): left as it is. */
        SKIPPED,
        /** Valid, but generating or storing it failed. */
        FAILED,
        /** Refused by the manifest checks. */
        INVALID;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public boolean ok() {
        return status == Status.GENERATED || status == Status.SKIPPED;
    }

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("line", line);
        m.put("status", status.label());
        m.put("file", file);
        m.put("seed", seed);
        m.put("seconds", seconds);
        m.put("sha256", sha256);
        m.put("error", error);
        return m;
    }
}
