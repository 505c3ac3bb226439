package fluxj.gguf;

import fluxj.io.SafeTensorsWriter;
import fluxj.io.TensorSpec;

import java.io.ByteArrayOutputStream;
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
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes GGUF version 3 files as gguf-py does: header, key-value pairs, tensor infos ({@code ne} = the torch shape
 * reversed), zero padding to the alignment, then each tensor's data padded to the alignment. Tensors are written in
 * the order given; each one's region of the file is mapped and handed to a filler, so files of any size stream.
 */
public final class GgufWriter {
    private GgufWriter() {}

    /** The header (through the padding before the data) for these pairs and tensors. */
    public static byte[] header(Map<String, GgufValue> kv, List<TensorSpec> specs) {
        long alignment = alignment(kv);
        Out o = new Out();
        o.u32(GgufFile.MAGIC);
        o.u32(3);
        o.u64(specs.size());
        o.u64(kv.size());
        for (var e : kv.entrySet()) {
            o.string(e.getKey());
            o.u32(e.getValue().type().id());
            o.value(e.getValue());
        }
        long offset = 0;
        Set<String> names = new HashSet<>();
        for (TensorSpec s : specs) {
            if (!names.add(s.name())) throw new IllegalArgumentException("tensor '" + s.name() + "' declared twice");
            long[] shape = s.shape();
            if (shape.length < 1 || shape.length > GgufFile.MAX_DIMS) throw new IllegalArgumentException("tensor '" + s.name() + "': GGUF holds 1 to 4 dimensions");
            o.string(s.name());
            o.u32(shape.length);
            for (int d = shape.length - 1; d >= 0; d--) o.u64(shape[d]);
            o.u32(GgufTypes.id(s.dtype()));
            o.u64(offset);
            offset = pad(Math.addExact(offset, s.byteSize()), alignment);
        }
        while (o.size() % alignment != 0) o.write(0);
        return o.toByteArray();
    }

    /**
     * Writes {@code file}; on failure the partial file is deleted.
     *
     * @param filler fills each tensor's {@code spec.byteSize()} bytes (blocks for block types)
     */
    public static void write(Path file, Map<String, GgufValue> kv, List<TensorSpec> specs, SafeTensorsWriter.Filler filler) throws IOException {
        byte[] header = header(kv, specs);
        long alignment = alignment(kv);
        boolean done = false;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer hb = ByteBuffer.wrap(header);
            while (hb.hasRemaining()) ch.write(hb, hb.position());
            long offset = header.length;
            for (TensorSpec s : specs) {
                long n = s.byteSize();
                if (n > 0) {
                    try (Arena arena = Arena.ofShared()) {
                        filler.fill(s, ch.map(FileChannel.MapMode.READ_WRITE, offset, n, arena));
                    }
                } else {
                    filler.fill(s, MemorySegment.ofArray(new byte[0]));
                }
                offset = header.length + pad(offset - header.length + n, alignment);
            }
            // The zero padding after the last tensor, as gguf-py writes it.
            if (ch.size() < offset) ch.write(ByteBuffer.allocate(1), offset - 1);
            done = true;
        } finally {
            if (!done) Files.deleteIfExists(file);
        }
    }

    private static long alignment(Map<String, GgufValue> kv) {
        GgufValue a = kv.get("general.alignment");
        if (a == null) return GgufFile.DEFAULT_ALIGNMENT;
        if (a.type() != GgufValue.Type.U32 || a.asLong() <= 0 || Long.bitCount(a.asLong()) != 1) {
            throw new IllegalArgumentException("general.alignment must be a u32 power of two, not " + a);
        }
        return a.asLong();
    }

    static long pad(long n, long alignment) { return (n + alignment - 1) / alignment * alignment; }

    /** A little-endian byte sink. */
    private static final class Out extends ByteArrayOutputStream {
        void u16(int v) { write(v); write(v >>> 8); }

        void u32(long v) { for (int i = 0; i < 4; i++) write((int) (v >>> (8 * i))); }

        void u64(long v) { for (int i = 0; i < 8; i++) write((int) (v >>> (8 * i))); }

        void string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            write(b, 0, b.length);
        }

        void value(GgufValue v) {
            if (v.type() == GgufValue.Type.ARRAY) {
                u32(v.elementType().id());
                u64(v.length());
                for (int i = 0; i < v.length(); i++) element(v.elementType(), v.value(), i);
                return;
            }
            scalar(v.type(), v.value());
        }

        private void element(GgufValue.Type t, Object array, int i) {
            Object x = switch (array) {
                case byte[] a -> t == GgufValue.Type.BOOL ? (Object) (a[i] != 0) : (long) a[i];
                case short[] a -> (long) a[i];
                case int[] a -> (long) a[i];
                case long[] a -> a[i];
                case float[] a -> a[i];
                case double[] a -> a[i];
                case String[] a -> a[i];
                default -> throw new IllegalArgumentException("not an array: " + array);
            };
            scalar(t, x);
        }

        private void scalar(GgufValue.Type t, Object x) {
            switch (t) {
                case U8, I8 -> write((int) (long) (Long) x);
                case U16, I16 -> u16((int) (long) (Long) x);
                case U32, I32 -> u32((Long) x);
                case U64, I64 -> u64((Long) x);
                case F32 -> u32(Float.floatToRawIntBits(((Number) x).floatValue()));
                case F64 -> u64(Double.doubleToRawLongBits(((Number) x).doubleValue()));
                case BOOL -> write((Boolean) x ? 1 : 0);
                case STRING -> string((String) x);
                case ARRAY -> throw new IllegalArgumentException("arrays of arrays are not allowed in GGUF");
            }
        }
    }
}
