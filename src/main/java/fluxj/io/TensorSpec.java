package fluxj.io;

import fluxj.tensor.DType;
import fluxj.tensor.Tensor;

import java.util.Arrays;

/** A tensor's name, dtype and shape without its data: what a safetensors header declares. */
public record TensorSpec(String name, DType dtype, long[] shape) {

    public TensorSpec {
        shape = shape.clone();
        for (long d : shape) if (d < 0) throw new IllegalArgumentException("tensor '" + name + "': negative dimension in " + Arrays.toString(shape));
    }

    public static TensorSpec of(Tensor t) { return new TensorSpec(t.name(), t.dtype(), t.shape()); }

    @Override
    public long[] shape() { return shape.clone(); }

    public long numel() {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    public long byteSize() { return dtype.bytes(numel()); }

    public int rank() { return shape.length; }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec s && s.name.equals(name) && s.dtype == dtype && Arrays.equals(s.shape, shape);
    }

    @Override
    public int hashCode() { return name.hashCode() * 31 + Arrays.hashCode(shape); }

    @Override
    public String toString() { return name + " " + dtype + Arrays.toString(shape); }
}
