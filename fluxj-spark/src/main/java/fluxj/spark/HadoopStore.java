package fluxj.spark;

import fluxj.batch.OutputStore;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.UUID;

/**
 * Images in a folder of any Hadoop file system (local, HDFS, S3 through s3a, ...). Each is written under a name of
 * its own to the task attempt ({@code .ID.png.<unique>.part}) and renamed to {@code ID.png} when complete, so a
 * failed, retried or speculative attempt never leaves a partial image nor writes into another attempt's file.
 * Attempts of one row make the same bytes, so whichever rename lands, the image is the same.
 */
final class HadoopStore implements OutputStore, AutoCloseable {
    private final FileSystem fs;
    private final Path dir;

    HadoopStore(Path dir, org.apache.hadoop.conf.Configuration conf) throws IOException {
        this.dir = dir;
        // An instance of our own: turning checksum files off (the local file system's .crc companions) must not
        // change the cached instance other code in the JVM shares.
        this.fs = FileSystem.newInstance(dir.toUri(), conf);
        fs.setWriteChecksum(false);
    }

    @Override
    public byte[] existing(String name) throws IOException {
        Path p = new Path(dir, name);
        try (FSDataInputStream in = fs.open(p)) {
            return in.readAllBytes();
        } catch (FileNotFoundException e) {
            return null;
        }
    }

    @Override
    public void put(String name, byte[] bytes) throws IOException {
        Path target = new Path(dir, name), tmp = new Path(dir, "." + name + "." + UUID.randomUUID() + ".part");
        try {
            try (FSDataOutputStream out = fs.create(tmp, false)) {
                out.write(bytes);
            }
            // rename refuses an existing target on HDFS and object stores: then another attempt has stored it.
            if (!fs.rename(tmp, target) && !fs.exists(target)) throw new IOException("could not rename " + tmp + " to " + target);
        } finally {
            fs.delete(tmp, false);
        }
    }

    @Override
    public String location(String name) {
        return new Path(dir, name).toString();
    }

    @Override
    public void close() throws IOException {
        fs.close();
    }
}
