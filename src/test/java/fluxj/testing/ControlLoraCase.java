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

/**
 * The public control case pi05_control_canny as a base (64-input) model plus a BFL-format Canny control LoRA,
 * written to a test's folder: applying the LoRA exactly gives back the case's Canny model weights.
 */
public final class ControlLoraCase {
    public static final String CASE = "pi05_control_canny";
    static final int RANK = 4;

    /** The files written: the base transformer and the LoRA. */
    public record Files(Path base, Path lora) {}

    private ControlLoraCase() {}

    /**
     * From the Canny model's weights Wc (BF16, so exact in float32): every linear layer but img_in gets a random
     * rank-4 delta D = B A and a random bias delta, the base holding float32(Wc - D) computed in float64; img_in's
     * base is a random [hidden, 64] matrix W0 and its LoRA has lora_A = identity (rank 128) and lora_B =
     * Wc - [W0 | 0], so the widened, merged img_in is [W0 | 0] + lora_B; the norm scales of the base are random
     * and the LoRA sets them to the Canny model's.
     */
    public static Files build(Path dir) throws IOException {
        Map<String, Object> c = ImageCases.byId(CASE);
        Path canny = ImageCases.file(((Map<?, ?>) c.get("model")).get("transformer"));
        Random rnd = new Random(5);
        List<Tensor> model = new ArrayList<>(), factors = new ArrayList<>();
        try (Checkpoint ck = Checkpoint.open(canny)) {
            FluxTransformer t = FluxTransformer.load(ck, null);
            if (t.config().inChannels() != 2 * t.config().outChannels()) throw new IllegalStateException(canny + " is not a Canny/Depth model");
            for (String name : ck.names()) {
                Tensor w = ck.get(name);
                String module = name.substring(0, name.lastIndexOf('.'));
                if (t.vectors().containsKey(name)) {
                    model.add(f32(name, random(rnd, (int) w.numel(), 0.5, 1.5), w.shape()));
                    factors.add(f32(name, w.toFloats(), w.shape()));
                } else if (name.endsWith(".bias")) {
                    double[] delta = random(rnd, w.rows(), -0.01, 0.01);
                    double[] b = new double[w.rows()];
                    for (int i = 0; i < b.length; i++) b[i] = w.get(i) - delta[i];
                    model.add(f32(name, b, w.shape()));
                    factors.add(f32(module + ".lora_B.bias", delta, w.shape()));
                } else if (module.equals("img_in")) {
                    int h = w.rows(), in = w.cols(), latent = in / 2;
                    double[] w0 = random(rnd, h * latent, -0.1, 0.1), up = new double[h * in], eye = new double[in * in];
                    for (int i = 0; i < h; i++) {
                        for (int j = 0; j < in; j++) up[i * in + j] = w.get((long) i * in + j) - (j < latent ? (float) w0[i * latent + j] : 0);
                    }
                    for (int k = 0; k < in; k++) eye[k * in + k] = 1;
                    model.add(f32(name, w0, new long[] {h, latent}));
                    factors.add(f32("img_in.lora_A.weight", eye, new long[] {in, in}));
                    factors.add(f32("img_in.lora_B.weight", up, new long[] {h, in}));
                } else {
                    if (!t.linears().containsKey(module)) throw new IllegalStateException(canny + ": unexpected tensor " + name);
                    int out = w.rows(), in = w.cols();
                    double[] down = random(rnd, RANK * in, -0.05, 0.05), up = random(rnd, out * RANK, -0.05, 0.05);
                    // the factors as stored (float32), the delta from them in float64
                    for (int i = 0; i < down.length; i++) down[i] = (float) down[i];
                    for (int i = 0; i < up.length; i++) up[i] = (float) up[i];
                    double[] b = new double[out * in];
                    for (int i = 0; i < out; i++) {
                        for (int j = 0; j < in; j++) {
                            double d = 0;
                            for (int k = 0; k < RANK; k++) d += up[i * RANK + k] * down[k * in + j];
                            b[i * in + j] = w.get((long) i * in + j) - d;
                        }
                    }
                    model.add(f32(name, b, w.shape()));
                    factors.add(f32(module + ".lora_A.weight", down, new long[] {RANK, in}));
                    factors.add(f32(module + ".lora_B.weight", up, new long[] {out, RANK}));
                }
            }
        }
        Files f = new Files(dir.resolve("flux1-tiny-dev-base.safetensors"), dir.resolve("flux1-tiny-canny-lora.safetensors"));
        SafeTensorsWriter.write(f.base(), Map.of(), model);
        SafeTensorsWriter.write(f.lora(), Map.of(), factors);
        return f;
    }

    private static double[] random(Random rnd, int n, double lo, double hi) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = lo + (hi - lo) * rnd.nextDouble();
        return v;
    }

    private static Tensor f32(String name, double[] v, long[] shape) {
        float[] f = new float[v.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) v[i];
        return f32(name, f, shape);
    }

    private static Tensor f32(String name, float[] v, long[] shape) {
        return new Tensor(name, DType.F32, shape, MemorySegment.ofArray(v), "test");
    }
}
