package fluxj.batch;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.Set;

/**
 * Images in a local (or mounted shared) folder. Each is written to a hidden temporary file beside its final name,
 * synced, then renamed over it: a rename within a folder is atomic, so a killed writer leaves at most a
 * {@code .ID.png.*.part} file, never a partial PNG.
 */
public final class DirectoryStore implements OutputStore {
    private static final String PART = ".part";
    private static final SecureRandom RANDOM = new SecureRandom();
    private final Path dir;

    public DirectoryStore(Path dir) {
        this.dir = dir;
    }

    @Override
    public byte[] existing(String name) throws IOException {
        try {
            return Files.readAllBytes(dir.resolve(name));
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    @Override
    public void put(String name, byte[] bytes) throws IOException {
        // A unique temporary name: two workers given the same row (a restarted pod beside its dying predecessor)
        // never write into one file. Created as any new file (not as createTempFile's owner-only one), so the
        // image is as readable as the files around it.
        Path tmp = dir.resolve("." + name + "." + Long.toHexString(RANDOM.nextLong() & Long.MAX_VALUE) + PART);
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.wrap(bytes);
                while (b.hasRemaining()) ch.write(b);
                ch.force(true);
            }
            Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    @Override
    public String location(String name) {
        return dir.resolve(name).toString();
    }

    /** Deletes the temporary files that killed runs left for the images {@code names}; returns how many. */
    public int removeLeftovers(Set<String> names) throws IOException {
        int n = 0;
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, "." + "*" + PART)) {
            for (Path p : s) {
                String f = p.getFileName().toString();
                int cut = f.lastIndexOf('.', f.length() - PART.length() - 1);
                if (cut > 1 && names.contains(f.substring(1, cut)) && Files.deleteIfExists(p)) n++;
            }
        }
        return n;
    }
}
