package fluxj.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads the fixtures' .npy files (little-endian f4, f8, i8; C order) into flat arrays. */
public record Npy(int[] shape, double[] data) {
    private static final Pattern DESCR = Pattern.compile("'descr':\\s*'([<|>=]?)([fiub])(\\d)'");
    private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\(([^)]*)\\)");

    public static Npy read(Path p) {
        try {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
            int major = b.get(6);
            int hlen = major == 1 ? Short.toUnsignedInt(b.getShort(8)) : b.getInt(8);
            int start = major == 1 ? 10 : 12;
            String header = new String(b.array(), start, hlen, StandardCharsets.ISO_8859_1);
            if (header.contains("'fortran_order': True")) throw new IOException(p + ": Fortran order not supported");
            Matcher d = DESCR.matcher(header), s = SHAPE.matcher(header);
            if (!d.find() || !s.find()) throw new IOException(p + ": cannot read npy header " + header);
            int[] shape = Arrays.stream(s.group(1).split(",")).map(String::trim).filter(x -> !x.isEmpty())
                    .mapToInt(Integer::parseInt).toArray();
            int n = Arrays.stream(shape).reduce(1, (a, c) -> a * c);
            double[] out = new double[n];
            b.position(start + hlen);
            String kind = d.group(2);
            int size = Integer.parseInt(d.group(3));
            for (int i = 0; i < n; i++) {
                out[i] = switch (kind + size) {
                    case "f4" -> b.getFloat();
                    case "f8" -> b.getDouble();
                    case "i8" -> b.getLong();
                    case "i4" -> b.getInt();
                    case "u1", "b1" -> b.get() & 0xff;
                    default -> throw new IOException(p + ": unsupported dtype " + kind + size);
                };
            }
            return new Npy(shape, out);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    public float[] floats() {
        float[] f = new float[data.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) data[i];
        return f;
    }

    public long[] longs() {
        long[] l = new long[data.length];
        for (int i = 0; i < l.length; i++) l[i] = (long) data[i];
        return l;
    }

    public int[] ints() {
        int[] l = new int[data.length];
        for (int i = 0; i < l.length; i++) l[i] = (int) data[i];
        return l;
    }

    /** Largest |a - b| over all elements; fails on a length mismatch. */
    public static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) throw new AssertionError("length " + a.length + " != " + b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
        return m;
    }
}
