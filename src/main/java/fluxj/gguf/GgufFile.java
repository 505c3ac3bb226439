package fluxj.gguf;

import fluxj.tensor.DType;
import fluxj.tensor.ModelFormatException;
import fluxj.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One memory-mapped GGUF file (versions 2 and 3, little-endian), validated at least as strictly as ggml's own
 * reader ({@code gguf.cpp}) before anything in it is trusted: every length and count is checked against the rest of
 * the file before anything is allocated, element counts and byte sizes with overflow checks, offsets against the
 * aligned running sum in file order. Tensors are views of the mapping with the torch shape ({@code ne} reversed);
 * block-quantized ones keep their blocks. Closing unmaps the file.
 */
public final class GgufFile implements AutoCloseable {
    public static final int DEFAULT_ALIGNMENT = 32;
    /** "GGUF" as a little-endian u32. */
    static final int MAGIC = 0x46554747;
    static final int MAX_DIMS = 4;

    private final Path path;
    private final Arena arena;
    private final int version;
    private final long alignment;
    private final Map<String, GgufValue> metadata;
    private final Map<String, Tensor> tensors;
    private final Map<String, Integer> ggmlTypes;
    private final long fileSize;

    private GgufFile(Path path, Arena arena, int version, long alignment, Map<String, GgufValue> metadata, Map<String, Tensor> tensors,
                     Map<String, Integer> ggmlTypes, long fileSize) {
        this.path = path;
        this.arena = arena;
        this.version = version;
        this.alignment = alignment;
        this.metadata = metadata;
        this.tensors = tensors;
        this.ggmlTypes = ggmlTypes;
        this.fileSize = fileSize;
    }

    /** Whether the file starts with the GGUF magic (cheap; says nothing about validity). */
    public static boolean isGguf(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining()) if (ch.read(b) < 0) return false;
            return b.getInt(0) == MAGIC;
        }
    }

    public static GgufFile open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment all = size == 0 ? MemorySegment.ofArray(new byte[0]) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return new Parser(path, all).parse(arena);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public Path path() { return path; }

    public long fileSize() { return fileSize; }

    public int version() { return version; }

    public long alignment() { return alignment; }

    /** Key-value pairs in file order. */
    public Map<String, GgufValue> metadata() { return metadata; }

    /** Tensors by name in file order, torch-shaped views of the mapping. */
    public Map<String, Tensor> tensors() { return tensors; }

    /** The ggml type id each tensor is stored as. */
    public int ggmlType(String tensor) { return ggmlTypes.get(tensor); }

    /** A string value of the metadata, or null when absent or not a string. */
    public String string(String key) {
        GgufValue v = metadata.get(key);
        return v != null && v.value() instanceof String s ? s : null;
    }

    @Override
    public void close() { arena.close(); }

    /** Reads the header with a cursor whose every read is bounds-checked against the file. */
    private static final class Parser {
        private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        private final Path path;
        private final String file;
        private final MemorySegment seg;
        private final long size;
        private long pos;

        Parser(Path path, MemorySegment seg) {
            this.path = path;
            this.file = path.toString();
            this.seg = seg;
            this.size = seg.byteSize();
        }

        private ModelFormatException bad(String problem) { return new ModelFormatException(file, problem); }

        /** A key or tensor name for a message: quoted, control characters escaped, very long ones cut. */
        static String quote(String s) {
            StringBuilder b = new StringBuilder("'");
            s.codePoints().limit(200).forEach(c -> {
                if (Character.isISOControl(c) || c == '\'') b.append(String.format("\\u%04x", c));
                else b.appendCodePoint(c);
            });
            return b.append(s.codePointCount(0, s.length()) > 200 ? "...'" : "'").toString();
        }

        private long remaining() { return size - pos; }

        /** Fails unless {@code n} more bytes exist for {@code what}. */
        private void need(long n, String what) {
            if (n < 0 || n > remaining()) {
                throw bad("truncated: " + what + " at byte " + pos + " needs " + (n < 0 ? Long.toUnsignedString(n) : n) + " bytes, only "
                        + remaining() + " remain in the file (" + size + " bytes)");
            }
        }

        private int u32(String what) {
            need(4, what);
            int v = seg.get(U32, pos);
            pos += 4;
            return v;
        }

        private long u64(String what) {
            need(8, what);
            long v = seg.get(U64, pos);
            pos += 8;
            return v;
        }

        /** A GGUF string: u64 length, then that many bytes. Keys and names must be valid UTF-8; values are decoded leniently. */
        private String string(String what, boolean strict) {
            long n = u64("length of " + what);
            if (n < 0 || n > remaining() || n > Integer.MAX_VALUE - 16) {
                throw bad(what + ": length " + Long.toUnsignedString(n) + " at byte " + (pos - 8) + " runs past the end of the file ("
                        + remaining() + " bytes remain): truncated or corrupt");
            }
            if (n == 0) return "";
            byte[] b = seg.asSlice(pos, n).toArray(ValueLayout.JAVA_BYTE);
            pos += n;
            if (!strict) return new String(b, StandardCharsets.UTF_8);
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(b)).toString();
            } catch (CharacterCodingException e) {
                throw bad(what + " is not valid UTF-8");
            }
        }

        GgufFile parse(Arena arena) {
            if (size < 4 || seg.get(U32, 0) != MAGIC) {
                throw bad("not a GGUF file (" + (size < 4 ? size + " bytes" : "it does not start with \"GGUF\"") + ")");
            }
            pos = 4;
            int version = u32("version");
            if (version != 2 && version != 3) {
                int swapped = Integer.reverseBytes(version);
                if (swapped >= 1 && swapped <= 3) {
                    throw bad("a big-endian (byte-swapped) GGUF file (version " + swapped + "); only little-endian GGUF files are supported");
                }
                throw bad("GGUF version " + Integer.toUnsignedString(version) + " is not supported (versions 2 and 3 are)");
            }
            long nTensors = u64("tensor count"), nKv = u64("key-value count");
            // Each key-value pair takes at least 13 bytes, each tensor info 29: counts that cannot fit are lies.
            if (nKv < 0 || nKv > remaining() / 13) throw bad("key-value count " + Long.toUnsignedString(nKv) + " cannot fit in the " + remaining() + " remaining bytes");
            if (nTensors < 0 || nTensors > remaining() / 29) throw bad("tensor count " + Long.toUnsignedString(nTensors) + " cannot fit in the " + remaining() + " remaining bytes");

            Map<String, GgufValue> metadata = new LinkedHashMap<>();
            for (long i = 0; i < nKv; i++) {
                String key = string("key of key-value pair " + i, true);
                if (key.isEmpty()) throw bad("key-value pair " + i + " has an empty key");
                if (metadata.containsKey(key)) throw bad("duplicate key " + quote(key));
                int t = u32("value type of key " + quote(key));
                GgufValue.Type type = GgufValue.Type.of(Integer.toUnsignedLong(t));
                if (type == null) throw bad("key " + quote(key) + ": unknown value type " + Integer.toUnsignedString(t));
                metadata.put(key, value(key, type));
            }
            long alignment = DEFAULT_ALIGNMENT;
            GgufValue a = metadata.get("general.alignment");
            if (a != null) {
                if (a.type() != GgufValue.Type.U32) throw bad("key 'general.alignment' must be a u32, not " + a.type());
                alignment = a.asLong() & 0xffffffffL;
                if (alignment == 0 || Long.bitCount(alignment) != 1) throw bad("key 'general.alignment' = " + alignment + " is not a power of two");
            }

            record Info(String name, long[] ne, int type, DType dtype, long offset, long bytes) {}
            List<Info> infos = new ArrayList<>();
            Map<String, Integer> seen = new LinkedHashMap<>();
            for (long i = 0; i < nTensors; i++) {
                String name = string("name of tensor " + i, true);
                String t = "tensor " + quote(name);
                if (seen.containsKey(name)) throw bad("duplicate tensor name " + quote(name));
                seen.put(name, infos.size());
                int nDims = u32("dimension count of " + t);
                if (nDims < 1 || nDims > MAX_DIMS) throw bad(t + ": " + Integer.toUnsignedString(nDims) + " dimensions (1 to " + MAX_DIMS + " allowed)");
                long[] ne = new long[nDims];
                long numel = 1;
                for (int d = 0; d < nDims; d++) {
                    ne[d] = u64("ne[" + d + "] of " + t);
                    if (ne[d] < 0) throw bad(t + ": ne[" + d + "] = " + Long.toUnsignedString(ne[d]) + " is negative as a signed 64-bit count");
                }
                for (long d : ne) {
                    try {
                        numel = Math.multiplyExact(numel, d);
                    } catch (ArithmeticException e) {
                        throw bad(t + ": ne = " + Arrays.toString(ne) + " overflows a 64-bit element count");
                    }
                }
                int type = u32("type of " + t);
                DType dt = GgufTypes.dtype(Integer.toUnsignedLong(type));
                if (dt == null) {
                    String known = GgufTypes.name(Integer.toUnsignedLong(type));
                    throw bad(t + ": " + (known == null ? "unknown tensor type " + Integer.toUnsignedString(type)
                            : "tensor type " + known + " (" + type + ") is not supported"));
                }
                if (ne[0] % dt.blockValues() != 0) {
                    throw bad(t + ": ne[0] = " + ne[0] + " is not a multiple of the " + dt + " block size " + dt.blockValues());
                }
                long bytes;
                try {
                    bytes = dt.bytes(numel);
                } catch (ArithmeticException e) {
                    throw bad(t + ": byte size of " + numel + " " + dt + " values overflows");
                }
                long offset = u64("data offset of " + t);
                infos.add(new Info(name, ne, type, dt, offset, bytes));
            }
            long dataStart = alignUp(pos, alignment, "the data section");
            if (dataStart > size) throw bad("truncated: the data section would start at byte " + dataStart + ", past the end of the file (" + size + " bytes)");
            long expect = 0;
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            Map<String, Integer> types = new LinkedHashMap<>();
            for (Info in : infos) {
                String t = "tensor " + quote(in.name);
                if (in.offset != expect) {
                    throw bad(t + ": data offset " + Long.toUnsignedString(in.offset) + ", expected " + expect
                            + " (tensors must follow each other in file order, each starting at a multiple of " + alignment + ")");
                }
                if (in.bytes > size - dataStart - in.offset) {
                    throw bad("truncated: " + t + " needs bytes " + (dataStart + in.offset) + " to " + (dataStart + in.offset + in.bytes)
                            + " but the file has " + size);
                }
                long[] shape = new long[in.ne.length];
                for (int d = 0; d < shape.length; d++) shape[d] = in.ne[shape.length - 1 - d];
                tensors.put(in.name, new Tensor(in.name, in.dtype, shape, seg.asSlice(dataStart + in.offset, in.bytes), file));
                types.put(in.name, in.type);
                expect = alignUp(in.offset + in.bytes, alignment, t);
            }
            return new GgufFile(path, arena, seg.get(U32, 4), alignment, Collections.unmodifiableMap(metadata),
                    Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(types), size);
        }

        private long alignUp(long n, long alignment, String what) {
            long r = n + (alignment - 1);
            if (r < 0) throw bad(what + ": offset " + n + " overflows when aligned to " + alignment);
            return r & -alignment;
        }

        private GgufValue value(String key, GgufValue.Type type) {
            String what = "value of key " + quote(key);
            return switch (type) {
                case ARRAY -> {
                    int et = u32("element type of " + what);
                    GgufValue.Type e = GgufValue.Type.of(Integer.toUnsignedLong(et));
                    if (e == null) throw bad("key " + quote(key) + ": array of unknown value type " + Integer.toUnsignedString(et));
                    if (e == GgufValue.Type.ARRAY) throw bad("key " + quote(key) + ": arrays of arrays are not allowed");
                    long n = u64("element count of " + what);
                    if (n < 0 || n > remaining() / e.minBytes) {
                        throw bad("key " + quote(key) + ": array of " + Long.toUnsignedString(n) + " " + e + " values cannot fit in the "
                                + remaining() + " remaining bytes");
                    }
                    yield new GgufValue(GgufValue.Type.ARRAY, e, array(key, e, (int) n));
                }
                case STRING -> new GgufValue(type, null, string(what, false));
                default -> {
                    need(type.minBytes, what);
                    Object v = scalar(type, pos);
                    pos += type.minBytes;
                    yield new GgufValue(type, null, v);
                }
            };
        }

        private Object scalar(GgufValue.Type type, long at) {
            return switch (type) {
                case U8 -> (long) (seg.get(ValueLayout.JAVA_BYTE, at) & 0xff);
                case I8 -> (long) seg.get(ValueLayout.JAVA_BYTE, at);
                case U16 -> (long) (seg.get(U16, at) & 0xffff);
                case I16 -> (long) seg.get(U16, at);
                case U32 -> seg.get(U32, at) & 0xffffffffL;
                case I32 -> (long) seg.get(U32, at);
                case U64, I64 -> seg.get(U64, at);
                case F32 -> seg.get(F32, at);
                case F64 -> seg.get(F64, at);
                case BOOL -> seg.get(ValueLayout.JAVA_BYTE, at) != 0;
                default -> throw new IllegalArgumentException(type.name());
            };
        }

        /** n elements (n already checked to fit in the file) as a compact array. */
        private Object array(String key, GgufValue.Type e, int n) {
            if (e == GgufValue.Type.STRING) {
                String[] out = new String[n];
                for (int i = 0; i < n; i++) out[i] = string("element " + i + " of key " + quote(key), false);
                return out;
            }
            long bytes = (long) n * e.minBytes;
            MemorySegment s = seg.asSlice(pos, bytes);
            pos += bytes;
            return switch (e) {
                case U8, I8, BOOL -> s.toArray(ValueLayout.JAVA_BYTE);
                case U16, I16 -> s.toArray(U16);
                case U32, I32 -> s.toArray(U32);
                case U64, I64 -> s.toArray(U64);
                case F32 -> s.toArray(F32);
                case F64 -> s.toArray(F64);
                default -> throw new IllegalArgumentException(e.name());
            };
        }
    }
}
