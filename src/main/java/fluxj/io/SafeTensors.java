package fluxj.io;

import fluxj.tensor.DType;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One memory-mapped safetensors file. The header is validated as strictly as the reference library before
 * anything in it is trusted; tensors are views of the mapping. Closing unmaps the file.
 */
public final class SafeTensors implements AutoCloseable {
    /** The reference library's limit on the header length. */
    public static final long MAX_HEADER = 100_000_000L;

    private final Path path;
    private final Arena arena;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;
    private final long fileSize;

    private SafeTensors(Path path, Arena arena, Map<String, Tensor> tensors, Map<String, String> metadata, long size) {
        this.path = path;
        this.arena = arena;
        this.tensors = tensors;
        this.metadata = metadata;
        this.fileSize = size;
    }

    public static SafeTensors open(Path path) throws IOException {
        String file = path.toString();
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw new ModelFormatException(file, "not a safetensors file: " + size + " bytes, shorter than the 8-byte header length");
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            while (lenBuf.hasRemaining()) if (ch.read(lenBuf, lenBuf.position()) < 0) break;
            long n = lenBuf.getLong(0);
            if (n < 0 || n > MAX_HEADER) {
                throw new ModelFormatException(file, "header length " + Long.toUnsignedString(n)
                        + " exceeds the safetensors limit of " + MAX_HEADER + " bytes (corrupt or not a safetensors file)");
            }
            if (8 + n > size) {
                throw new ModelFormatException(file, "header length " + n + " runs past the end of the file (" + size
                        + " bytes): truncated or corrupt");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) n);
            while (hb.hasRemaining()) if (ch.read(hb, 8 + hb.position()) < 0) throw new ModelFormatException(file, "file shrank while reading the header");
            hb.flip();
            String header;
            try {
                header = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(hb).toString();
            } catch (CharacterCodingException e) {
                throw new ModelFormatException(file, "header is not valid UTF-8");
            }
            if (!header.startsWith("{")) throw new ModelFormatException(file, "header does not start with '{'");
            Object parsed;
            try {
                parsed = Json.parse(header);
            } catch (Json.JsonException e) {
                throw new ModelFormatException(file, "header is not valid JSON: " + e.getMessage());
            }
            if (!(parsed instanceof Map<?, ?> map)) throw new ModelFormatException(file, "header is not a JSON object");
            long dataStart = 8 + n, dataLen = size - dataStart;
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            MemorySegment data = all.asSlice(dataStart, dataLen);
            Map<String, String> metadata = new LinkedHashMap<>();
            record Entry(String name, DType dtype, long[] shape, long begin, long end) {}
            List<Entry> entries = new ArrayList<>();
            for (var e : map.entrySet()) {
                String name = (String) e.getKey();
                if (name.equals("__metadata__")) {
                    if (!(e.getValue() instanceof Map<?, ?> md)) throw new ModelFormatException(file, "__metadata__ is not an object");
                    for (var m : md.entrySet()) {
                        if (!(m.getValue() instanceof String sv)) throw new ModelFormatException(file, "__metadata__ value for '" + m.getKey() + "' is not a string");
                        metadata.put((String) m.getKey(), sv);
                    }
                    continue;
                }
                if (!(e.getValue() instanceof Map<?, ?> t)) throw new ModelFormatException(file, "tensor '" + name + "': entry is not an object");
                if (!(t.get("dtype") instanceof String ds)) throw new ModelFormatException(file, "tensor '" + name + "': missing dtype");
                DType dt = DType.fromSafetensors(ds);
                if (dt == null) throw new ModelFormatException(file, "tensor '" + name + "': unknown dtype '" + ds + "'");
                if (!(t.get("shape") instanceof List<?> sl)) throw new ModelFormatException(file, "tensor '" + name + "': missing shape");
                long[] shape = new long[sl.size()];
                long numel = 1;
                for (int i = 0; i < shape.length; i++) {
                    if (!(sl.get(i) instanceof Long d) || d < 0) throw new ModelFormatException(file, "tensor '" + name + "': shape " + sl + " is not a list of non-negative integers");
                    shape[i] = d;
                    try {
                        numel = Math.multiplyExact(numel, d);
                    } catch (ArithmeticException ex) {
                        throw new ModelFormatException(file, "tensor '" + name + "': shape " + sl + " overflows");
                    }
                }
                if (!(t.get("data_offsets") instanceof List<?> ol) || ol.size() != 2
                        || !(ol.get(0) instanceof Long b) || !(ol.get(1) instanceof Long en) || b < 0 || en < b) {
                    throw new ModelFormatException(file, "tensor '" + name + "': data_offsets must be [begin, end] with 0 <= begin <= end");
                }
                long bytes;
                try {
                    bytes = Math.multiplyExact(numel, dt.byteSize());
                } catch (ArithmeticException ex) {
                    throw new ModelFormatException(file, "tensor '" + name + "': byte size overflows");
                }
                if (en - b != bytes) {
                    throw new ModelFormatException(file, "tensor '" + name + "': data_offsets span " + (en - b) + " bytes but shape "
                            + sl + " of " + ds + " needs " + bytes);
                }
                entries.add(new Entry(name, dt, shape, b, en));
            }
            entries.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
            long expect = 0;
            for (Entry en : entries) {
                if (en.begin != expect) {
                    throw new ModelFormatException(file, "tensor '" + en.name + "': data starts at " + en.begin + " but the previous tensor ends at "
                            + expect + " (offsets must be contiguous from 0, without gaps or overlaps)");
                }
                expect = en.end;
            }
            if (expect != dataLen) {
                throw new ModelFormatException(file, "tensor data ends at " + expect + " but the file holds " + dataLen
                        + " data bytes after the header (truncated, or trailing bytes)");
            }
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Entry en : entries) {
                tensors.put(en.name, new Tensor(en.name, en.dtype, en.shape, data.asSlice(en.begin, en.end - en.begin), file));
            }
            return new SafeTensors(path, arena, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata), size);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public Path path() { return path; }

    public long fileSize() { return fileSize; }

    /** Tensors by name, in file order. */
    public Map<String, Tensor> tensors() { return tensors; }

    public Map<String, String> metadata() { return metadata; }

    /** Releases the mapping; every tensor of this file becomes unusable. */
    @Override
    public void close() { arena.close(); }
}
