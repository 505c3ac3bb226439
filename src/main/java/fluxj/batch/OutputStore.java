package fluxj.batch;

import java.io.IOException;

/**
 * Where a batch puts its images: a local folder ({@link DirectoryStore}) or, in the Spark module, any Hadoop file
 * system. Names are the rows' file names ({@code <id>.png}), already checked to be safe.
 */
public interface OutputStore {
    /** The bytes of {@code name} when it exists (a finished image: stores write whole files only), else null. */
    byte[] existing(String name) throws IOException;

    /**
     * Stores {@code bytes} as {@code name} all at once: anyone looking sees no file or the whole file, never a part,
     * even when the writer is killed midway.
     */
    void put(String name, byte[] bytes) throws IOException;

    /** {@code name} as the results show it (a path or URI). */
    String location(String name);
}
