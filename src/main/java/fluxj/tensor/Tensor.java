package fluxj.tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A named tensor viewing stored bytes (usually a mapped file region) in its stored dtype. Nothing is copied:
 * kernels widen elements as they read them (block-quantized GGUF weights are decoded block by block). {@code scale} is a per-tensor multiplier for scaled FP8 weights
 * (1 otherwise); {@link #get} and the kernels apply it.
 */
public record Tensor(String name, DType dtype, long[] shape, MemorySegment data, float scale, String source) {

    public Tensor {
        shape = shape.clone();
    }

    public Tensor(String name, DType dtype, long[] shape, MemorySegment data, String source) {
        this(name, dtype, shape, data, 1f, source);
    }

    public long numel() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    public int rank() { return shape.length; }

    /**
     * Dimension {@code i} (negative: from the end). Shapes come from files, so a missing dimension or one too
     * large for an int is an error naming the tensor and its file.
     */
    public int dim(int i) {
        int a = i < 0 ? shape.length + i : i;
        if (a < 0 || a >= shape.length) throw badShape("has no dimension " + i);
        return toInt(shape[a]);
    }

    /** Rows of the tensor seen as a matrix [shape[0], product of the rest]. */
    public int rows() { return shape.length == 0 ? 1 : dim(0); }

    /** Columns of the tensor seen as a matrix [shape[0], product of the rest]. */
    public int cols() {
        long n = 1;
        for (int i = 1; i < shape.length; i++) n *= shape[i];
        return toInt(n);
    }

    private int toInt(long n) {
        if (n > Integer.MAX_VALUE) throw badShape("is too large (a dimension or row over 2^31 - 1 elements)");
        return (int) n;
    }

    private ModelFormatException badShape(String problem) {
        return new ModelFormatException(source, "tensor '" + name + "' has shape " + Arrays.toString(shape) + ", which " + problem);
    }

    public float get(long i) { return dtype.get(data, i) * scale; }

    public long getLong(long i) { return dtype.getLong(data, i); }

    /** A copy widened to f32: for small tensors (biases, norm scales), never for weight matrices. */
    public float[] toFloats() {
        int n = Math.toIntExact(numel());
        float[] out = new float[n];
        Widen.span(this, 0, n, out, 0);
        return out;
    }

    /** The same bytes seen with another per-tensor scale (scaled FP8 checkpoints). */
    public Tensor withScale(float s) { return new Tensor(name, dtype, shape, data, s, source); }

    /** Rows [from, to) of the tensor seen as a matrix: a view, no copy (e.g. q, k, v of a fused qkv). */
    public Tensor sliceRows(int from, int to) {
        long[] s = shape.clone();
        s[0] = to - from;
        long rowBytes = dtype.bytes(cols());
        return new Tensor(name + "[" + from + ":" + to + "]", dtype, s,
                data.asSlice(from * rowBytes, (to - from) * rowBytes), scale, source);
    }

    /** Requires the given shape, else an error naming the tensor, its file and both shapes. */
    public Tensor expectShape(long... expected) {
        if (!Arrays.equals(shape, expected)) {
            throw new ModelFormatException(source, "tensor '" + name + "' has shape " + Arrays.toString(shape)
                    + ", expected " + Arrays.toString(expected));
        }
        return this;
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Tensor t && t.name.equals(name) && t.source.equals(source);
    }

    @Override
    public int hashCode() { return name.hashCode() * 31 + source.hashCode(); }
}
