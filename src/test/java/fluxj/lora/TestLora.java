package fluxj.lora;

import fluxj.io.SafeTensorsWriter;
import fluxj.tensor.DType;
import fluxj.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** A LoRA file written by a test: named random (or given) float32 tensors, kept in memory for expected values. */
final class TestLora {
    private final Random rnd;
    private final Map<String, float[]> values = new LinkedHashMap<>();
    private final Map<String, long[]> shapes = new LinkedHashMap<>();

    TestLora(long seed) { rnd = new Random(seed); }

    /** A [rows, cols] matrix of values ~ U(-0.5, 0.5). */
    double[][] matrix(String name, int rows, int cols) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) v[i] = rnd.nextFloat() - 0.5f;
        put(name, v, rows, cols);
        return get(name);
    }

    TestLora put(String name, float[] v, long... shape) {
        values.put(name, v);
        shapes.put(name, shape);
        return this;
    }

    TestLora scalar(String name, float v) { return put(name, new float[]{v}); }

    double[][] get(String name) {
        long[] s = shapes.get(name);
        int rows = (int) s[0], cols = s.length > 1 ? (int) s[1] : 1;
        double[][] m = new double[rows][cols];
        float[] v = values.get(name);
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) m[i][j] = v[i * cols + j];
        return m;
    }

    Path write(Path file) throws IOException {
        List<Tensor> ts = new ArrayList<>();
        values.forEach((k, v) -> ts.add(new Tensor(k, DType.F32, shapes.get(k), MemorySegment.ofArray(v), "test")));
        SafeTensorsWriter.write(file, Map.of(), ts);
        return file;
    }

    static double[][] mul(double[][] a, double[][] b) {
        double[][] c = new double[a.length][b[0].length];
        for (int i = 0; i < a.length; i++) for (int k = 0; k < b.length; k++) for (int j = 0; j < b[0].length; j++) c[i][j] += a[i][k] * b[k][j];
        return c;
    }

    static double[][] times(double f, double[][] a) {
        double[][] c = new double[a.length][a[0].length];
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[0].length; j++) c[i][j] = f * a[i][j];
        return c;
    }

    static double[][] hadamard(double[][] a, double[][] b) {
        double[][] c = new double[a.length][a[0].length];
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[0].length; j++) c[i][j] = a[i][j] * b[i][j];
        return c;
    }

    static double[][] kron(double[][] a, double[][] b) {
        int rb = b.length, cb = b[0].length;
        double[][] c = new double[a.length * rb][a[0].length * cb];
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[0].length; j++)
            for (int k = 0; k < rb; k++) for (int l = 0; l < cb; l++) c[i * rb + k][j * cb + l] = a[i][j] * b[k][l];
        return c;
    }
}
