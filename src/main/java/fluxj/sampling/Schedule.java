package fluxj.sampling;

import fluxj.io.Json;
import fluxj.tensor.ModelFormatException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * The flow-matching timesteps t from 1 to 0, computed in float32 exactly as the reference
 * ({@code flux.sampling.get_schedule}) computes them with torch: {@code torch.linspace(1, 0, steps + 1)}, then for
 * resolution-shifted models {@code t' = exp(mu) / (exp(mu) + (1/t - 1))} with mu linear in the image token count.
 *
 * @param dynamic     shift by image size (dev-type models); otherwise {@code shift} applies as a constant
 * @param baseShift   mu at {@code baseSeqLen} tokens
 * @param maxShift    mu at {@code maxSeqLen} tokens
 * @param shift       diffusers' static shift {@code shift*t / (1 + (shift-1)*t)}; 1 = none
 */
public record Schedule(boolean dynamic, double baseShift, double maxShift, int baseSeqLen, int maxSeqLen, double shift) {

    /** FLUX.1-dev: shifted for resolution, mu from 0.5 at 256 tokens to 1.15 at 4096 tokens. */
    public static final Schedule DEV = new Schedule(true, 0.5, 1.15, 256, 4096, 1.0);
    /** FLUX.1-schnell: the plain linear schedule. */
    public static final Schedule SCHNELL = new Schedule(false, 0.5, 1.15, 256, 4096, 1.0);

    public Schedule {
        if (maxSeqLen == baseSeqLen) throw new IllegalArgumentException("max_image_seq_len must differ from base_image_seq_len");
        if (!(shift > 0)) throw new IllegalArgumentException("shift must be positive, got " + shift);
    }

    /** The reference's choice: shifted for models with a guidance embedder (dev), plain for schnell. */
    public static Schedule forModel(boolean guidanceEmbed) {
        return guidanceEmbed ? DEV : SCHNELL;
    }

    /** A diffusers {@code scheduler_config.json} (FlowMatchEulerDiscreteScheduler); absent keys take FLUX.1 defaults. */
    public static Schedule fromSchedulerConfig(Path file) throws IOException {
        Map<String, Object> c;
        try {
            c = Json.readObject(file);
        } catch (Json.JsonException e) {
            throw new ModelFormatException(file.toString(), "not valid JSON: " + e.getMessage());
        }
        try {
            return new Schedule(bool(c, "use_dynamic_shifting", false), num(c, "base_shift", 0.5), num(c, "max_shift", 1.15),
                    (int) num(c, "base_image_seq_len", 256), (int) num(c, "max_image_seq_len", 4096), num(c, "shift", 1.0));
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file.toString(), e.getMessage());
        }
    }

    private static boolean bool(Map<String, Object> c, String k, boolean dflt) {
        Object v = c.get(k);
        if (v == null) return dflt;
        if (v instanceof Boolean b) return b;
        throw new IllegalArgumentException("\"" + k + "\" must be true or false, got " + v);
    }

    private static double num(Map<String, Object> c, String k, double dflt) {
        Object v = c.get(k);
        if (v == null) return dflt;
        if (v instanceof Number n) return n.doubleValue();
        throw new IllegalArgumentException("\"" + k + "\" must be a number, got " + v);
    }

    /** mu for an image of {@code seqLen} tokens, as Python evaluates {@code m * x + b} in double. */
    public double mu(int seqLen) {
        double m = (maxShift - baseShift) / (maxSeqLen - baseSeqLen);
        double b = baseShift - m * baseSeqLen;
        return m * seqLen + b;
    }

    /** The steps + 1 timesteps for an image of {@code seqLen} = (H/16)*(W/16) tokens, from ~1 down to 0. */
    public float[] timesteps(int steps, int seqLen) {
        if (steps < 1) throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        float[] t = linspace(1f, 0f, steps + 1);
        if (dynamic) {
            // torch: exp(mu) / (exp(mu) + (t.reciprocal() * 1 - 1)) with the scalar exp(mu) rounded to float32
            float e = (float) StrictMath.exp(mu(seqLen));
            for (int i = 0; i < t.length; i++) t[i] = (1f / (e + (1f / t[i] - 1f))) * e;
        } else if (shift != 1.0) {
            float s = (float) shift;
            for (int i = 0; i < t.length; i++) t[i] = s * t[i] / (1f + (s - 1f) * t[i]);
        }
        return t;
    }

    /**
     * torch.linspace for float32: step = (end - start) / (n - 1); the first half counts up from start, the second
     * down from end. The AVX2 build of that kernel contracts {@code start + step * i} (and
     * {@code end - step * k}) into one fused multiply-add; this changes single values by one ulp for some step counts.
     */
    static float[] linspace(float start, float end, int n) {
        float[] out = new float[n];
        if (n == 1) {
            out[0] = start;
            return out;
        }
        float step = (end - start) / (n - 1);
        int half = n / 2;
        for (int i = 0; i < n; i++) out[i] = i < half ? Math.fma(step, (float) i, start) : Math.fma(-step, (float) (n - i - 1), end);
        return out;
    }
}
