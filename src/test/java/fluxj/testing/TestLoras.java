package fluxj.testing;

import fluxj.flux.FluxTransformer;
import fluxj.io.Checkpoint;
import fluxj.io.SafeTensorsWriter;
import fluxj.tensor.DType;
import fluxj.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** LoRA files for models that have none in the fixtures. */
public final class TestLoras {
    private TestLoras() {}

    /** A kohya LoRA of rank 4 (alpha 2) on every linear layer of the transformer in {@code model}, small random factors. */
    public static Path everyLayer(Path model, Path out) throws IOException {
        Random rnd = new Random(9);
        List<Tensor> ts = new ArrayList<>();
        try (Checkpoint ck = Checkpoint.open(model)) {
            FluxTransformer.load(ck, null).linears().forEach((m, s) -> {
                String k = "lora_unet_" + m.replace('.', '_');
                ts.add(random(k + ".lora_down.weight", 4, s.in(), rnd));
                ts.add(random(k + ".lora_up.weight", s.out(), 4, rnd));
                ts.add(new Tensor(k + ".alpha", DType.F32, new long[] {}, MemorySegment.ofArray(new float[] {2f}), "test"));
            });
        }
        SafeTensorsWriter.write(out, Map.of(), ts);
        return out;
    }

    /**
     * A BFL-format Canny/Depth control LoRA for the base (64-input) transformer in {@code model}: rank 4, no alpha,
     * on every linear layer with a {@code lora_B.bias} for each bias, img_in's factors taking twice the latent's
     * inputs, and every norm scale set to 1 + i/1000.
     */
    public static Path control(Path model, Path out) throws IOException {
        Random rnd = new Random(10);
        List<Tensor> ts = new ArrayList<>();
        try (Checkpoint ck = Checkpoint.open(model)) {
            FluxTransformer t = FluxTransformer.load(ck, null);
            t.linears().forEach((m, s) -> {
                int in = m.equals("img_in") ? 2 * s.in() : s.in();
                ts.add(random(m + ".lora_A.weight", 4, in, rnd));
                ts.add(random(m + ".lora_B.weight", s.out(), 4, rnd));
                Tensor bias = random(m + ".lora_B.bias", 1, s.out(), rnd);
                ts.add(new Tensor(bias.name(), DType.F32, new long[] {s.out()}, bias.data(), "test"));
            });
            t.vectors().forEach((v, n) -> {
                float[] scale = new float[n];
                for (int i = 0; i < n; i++) scale[i] = 1 + i / 1000f;
                ts.add(new Tensor(v, DType.F32, new long[] {n}, MemorySegment.ofArray(scale), "test"));
            });
        }
        SafeTensorsWriter.write(out, Map.of(), ts);
        return out;
    }

    private static Tensor random(String name, int rows, int cols, Random rnd) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) v[i] = (rnd.nextFloat() - 0.5f) * 0.2f;
        return new Tensor(name, DType.F32, new long[] {rows, cols}, MemorySegment.ofArray(v), "test");
    }
}
