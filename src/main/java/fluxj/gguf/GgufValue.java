package fluxj.gguf;

import java.util.Arrays;
import java.util.Locale;

/**
 * One metadata value of a GGUF file. Scalars are held as {@code Long} (every integer type; u64 above 2^63 - 1
 * wraps, as in Java), {@code Float}, {@code Double}, {@code Boolean} or {@code String}; arrays as a primitive
 * array of their element type ({@code byte[]} for u8/i8/bool, {@code short[]}, {@code int[]}, {@code long[]},
 * {@code float[]}, {@code double[]}) or {@code String[]}, so even a huge array costs no more than its bytes.
 *
 * @param elementType for arrays, the type of the elements; null otherwise
 */
public record GgufValue(Type type, Type elementType, Object value) {

    /** The value types of the GGUF format, with their ids and the fewest bytes a value of the type occupies. */
    public enum Type {
        U8(0, 1), I8(1, 1), U16(2, 2), I16(3, 2), U32(4, 4), I32(5, 4), F32(6, 4), BOOL(7, 1), STRING(8, 8),
        ARRAY(9, 12), U64(10, 8), I64(11, 8), F64(12, 8);

        final int id, minBytes;

        Type(int id, int minBytes) {
            this.id = id;
            this.minBytes = minBytes;
        }

        public int id() { return id; }

        /** The type with this id, or null. */
        static Type of(long id) {
            for (Type t : values()) if (t.id == id) return t;
            return null;
        }
    }

    public static GgufValue u32(long v) { return new GgufValue(Type.U32, null, v); }

    public static GgufValue string(String s) { return new GgufValue(Type.STRING, null, s); }

    public static GgufValue strings(String... s) { return new GgufValue(Type.ARRAY, Type.STRING, s.clone()); }

    /** The value as a long, for integer scalars. */
    public long asLong() {
        if (!(value instanceof Long l)) throw new IllegalStateException("not an integer: " + this);
        return l;
    }

    /** Number of elements of an array value (1 for a scalar). */
    public int length() {
        return switch (value) {
            case byte[] a -> a.length;
            case short[] a -> a.length;
            case int[] a -> a.length;
            case long[] a -> a.length;
            case float[] a -> a.length;
            case double[] a -> a.length;
            case String[] a -> a.length;
            default -> 1;
        };
    }

    /** For people: the scalar's value, or a short description of an array. */
    @Override
    public String toString() {
        if (type == Type.ARRAY) {
            String head = switch (value) {
                case String[] a -> Arrays.toString(Arrays.copyOf(a, Math.min(3, a.length)));
                default -> "";
            };
            return "[" + length() + " x " + elementType.name().toLowerCase(Locale.ROOT) + "]" + (head.isEmpty() || length() == 0 ? "" : " " + head.replaceFirst("]$", length() > 3 ? ", ...]" : "]"));
        }
        if (type == Type.U64 && value instanceof Long l) return Long.toUnsignedString(l);
        return String.valueOf(value);
    }
}
