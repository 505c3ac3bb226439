package fluxj.text;

import fluxj.tensor.ModelFormatException;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A minimal protocol-buffers wire-format reader (varint, fixed32/64, length-delimited), enough to read a
 * sentencepiece {@code ModelProto} without a protobuf dependency. Every overrun is reported against the file.
 */
final class Protobuf {
    static final int VARINT = 0, FIXED64 = 1, BYTES = 2, FIXED32 = 5;

    private final byte[] buf;
    private final String file;
    private final int end;
    private int pos;
    private int wireType;

    Protobuf(byte[] buf, String file) {
        this(buf, 0, buf.length, file);
    }

    private Protobuf(byte[] buf, int from, int to, String file) {
        this.buf = buf;
        this.pos = from;
        this.end = to;
        this.file = file;
    }

    boolean hasNext() {
        return pos < end;
    }

    /** Reads the next tag; returns its field number (the wire type is kept for the value readers). */
    int next() {
        long tag = varint();
        wireType = (int) (tag & 7);
        long field = tag >>> 3;
        if (field == 0 || field > Integer.MAX_VALUE) throw corrupt("invalid field number " + field);
        return (int) field;
    }

    int wireType() {
        return wireType;
    }

    long varint() {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= end) throw corrupt("truncated varint");
            byte b = buf[pos++];
            v |= (long) (b & 0x7F) << shift;
            if (b >= 0) return v;
        }
        throw corrupt("varint longer than 10 bytes");
    }

    boolean bool() {
        expect(VARINT);
        return varint() != 0;
    }

    int int32() {
        expect(VARINT);
        return (int) varint();
    }

    float float32() {
        expect(FIXED32);
        need(4);
        int bits = (buf[pos] & 0xFF) | (buf[pos + 1] & 0xFF) << 8 | (buf[pos + 2] & 0xFF) << 16 | (buf[pos + 3] & 0xFF) << 24;
        pos += 4;
        return Float.intBitsToFloat(bits);
    }

    byte[] bytes() {
        int n = length();
        byte[] out = Arrays.copyOfRange(buf, pos, pos + n);
        pos += n;
        return out;
    }

    String string() {
        return new String(bytes(), StandardCharsets.UTF_8);
    }

    /** A reader over the embedded message that is the current field's value. */
    Protobuf message() {
        int n = length();
        Protobuf sub = new Protobuf(buf, pos, pos + n, file);
        pos += n;
        return sub;
    }

    /** Skips the current field's value. */
    void skip() {
        switch (wireType) {
            case VARINT -> varint();
            case FIXED64 -> { need(8); pos += 8; }
            case BYTES -> {
                int n = length(); // read before adding: pos moves past the length
                pos += n;
            }
            case FIXED32 -> { need(4); pos += 4; }
            default -> throw corrupt("unsupported wire type " + wireType);
        }
    }

    private int length() {
        expect(BYTES);
        long n = varint();
        if (n < 0 || n > end - pos) throw corrupt("field length " + n + " runs past the end");
        return (int) n;
    }

    private void need(int n) {
        if (end - pos < n) throw corrupt("truncated field");
    }

    private void expect(int type) {
        if (wireType != type) throw corrupt("wire type " + wireType + " where " + type + " was expected");
    }

    private ModelFormatException corrupt(String problem) {
        return new ModelFormatException(file, "not a valid sentencepiece model (protobuf: " + problem + " at byte " + pos + ")");
    }
}
