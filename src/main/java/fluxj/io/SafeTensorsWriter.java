package fluxj.io;

import fluxj.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes safetensors files the way the fixtures are written: {@code __metadata__} first, tensors in sorted-name
 * order with contiguous offsets, the header padded with spaces to a multiple of 8 bytes.
 *
 * <p>Writing streams: the header is built from the declared specs alone, then each tensor's region of the file is
 * mapped in turn and handed to a {@link Filler}, so a file of any size passes through memory one tensor at a time.
 * The mapping is shared, so a filler may split its tensor over threads.
 */
public final class SafeTensorsWriter {
    private SafeTensorsWriter() {}

    /** Fills one tensor's bytes (little-endian, {@code spec.byteSize()} of them) in the mapped file region {@code out}. */
    @FunctionalInterface
    public interface Filler {
        void fill(TensorSpec spec, MemorySegment out) throws IOException;
    }

    /** The specs in file order (sorted by name). */
    public static List<TensorSpec> fileOrder(Collection<TensorSpec> specs) {
        List<TensorSpec> sorted = new ArrayList<>(specs);
        sorted.sort(Comparator.comparing(TensorSpec::name));
        Set<String> seen = new HashSet<>();
        for (TensorSpec s : sorted) {
            if (s.name().equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' cannot name a tensor");
            if (!seen.add(s.name())) throw new IllegalArgumentException("tensor '" + s.name() + "' declared twice");
            if (s.dtype().isBlock()) throw new IllegalArgumentException("tensor '" + s.name() + "': safetensors cannot hold " + s.dtype() + " blocks (write GGUF)");
        }
        return sorted;
    }

    /** The 8-byte length followed by the padded JSON header for {@code specs}. */
    public static byte[] header(Map<String, String> metadata, Collection<TensorSpec> specs) {
        Map<String, Object> json = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) json.put("__metadata__", metadata);
        long offset = 0;
        for (TensorSpec s : fileOrder(specs)) {
            long end = Math.addExact(offset, s.byteSize());
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("dtype", s.dtype().name());
            entry.put("shape", s.shape());
            entry.put("data_offsets", new long[] {offset, end});
            json.put(s.name(), entry);
            offset = end;
        }
        byte[] text = Json.write(json).getBytes(StandardCharsets.UTF_8);
        int padded = (text.length + 7) & ~7;
        ByteBuffer b = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(padded).put(text);
        while (b.hasRemaining()) b.put((byte) ' ');
        return b.array();
    }

    /**
     * Writes {@code file}: the header for {@code specs}, then each tensor filled in place by {@code filler}, in file
     * order. On failure the partial file is deleted.
     */
    public static void write(Path file, Map<String, String> metadata, Collection<TensorSpec> specs, Filler filler) throws IOException {
        List<TensorSpec> ordered = fileOrder(specs);
        byte[] header = header(metadata, ordered);
        boolean done = false;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer hb = ByteBuffer.wrap(header);
            while (hb.hasRemaining()) ch.write(hb, hb.position());
            long offset = header.length;
            for (TensorSpec s : ordered) {
                long n = s.byteSize();
                if (n == 0) {
                    filler.fill(s, MemorySegment.ofArray(new byte[0]));
                    continue;
                }
                try (Arena arena = Arena.ofShared()) {
                    filler.fill(s, ch.map(FileChannel.MapMode.READ_WRITE, offset, n, arena));
                }
                offset += n;
            }
            done = true;
        } finally {
            if (!done) Files.deleteIfExists(file);
        }
    }

    /** Writes tensors already in memory (or mapped from another file), copying their bytes. */
    public static void write(Path file, Map<String, String> metadata, Collection<Tensor> tensors) throws IOException {
        Map<String, Tensor> byName = new LinkedHashMap<>();
        List<TensorSpec> specs = new ArrayList<>();
        for (Tensor t : tensors) {
            TensorSpec s = TensorSpec.of(t);
            if (t.data().byteSize() != s.byteSize()) {
                throw new IllegalArgumentException("tensor '" + t.name() + "' holds " + t.data().byteSize() + " bytes, its shape needs " + s.byteSize());
            }
            byName.put(t.name(), t);
            specs.add(s);
        }
        write(file, metadata, specs, (s, out) -> MemorySegment.copy(byName.get(s.name()).data(), 0, out, 0, out.byteSize()));
    }
}
