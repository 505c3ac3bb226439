package fluxj.sampling;

/**
 * Flow-matching Euler integration from noise (t = 1) to image (t = 0), as the reference's {@code denoise}:
 * {@code x += (t_next - t) * v(x, t)} in float32, with optional true classifier-free guidance.
 */
public final class EulerSampler {
    /** Called after each step with the new latent; {@code guided} says whether a negative pass was made. */
    @FunctionalInterface
    public interface StepListener {
        void stepDone(int step, int steps, float[] latent, boolean guided);
    }

    /** Applied to the latent right after each step, before the listener sees it (e.g. inpainting's known region). */
    @FunctionalInterface
    public interface AfterStep {
        void apply(float[] x, float tNext);
    }

    private EulerSampler() {}

    /**
     * Integrates {@code x} (modified in place and returned) over {@code timesteps}.
     *
     * @param negative the velocity under the negative prompt; used only when {@code cfg} is non-null
     */
    public static float[] sample(float[] x, float[] timesteps, Velocity positive, Velocity negative, TrueCfg cfg, StepListener listener) {
        return sample(x, timesteps, positive, negative, cfg, null, listener);
    }

    /** {@link #sample} with {@code after} applied after every step (null: nothing). */
    public static float[] sample(float[] x, float[] timesteps, Velocity positive, Velocity negative, TrueCfg cfg, AfterStep after, StepListener listener) {
        int steps = timesteps.length - 1;
        for (int i = 0; i < steps; i++) {
            float t = timesteps[i];
            float[] v = positive.at(x, t);
            boolean guided = cfg != null && cfg.appliesAt(t);
            if (guided) v = guide(v, negative.at(x, t), (float) cfg.scale());
            checkLength(v, x.length);
            float dt = timesteps[i + 1] - t;
            for (int j = 0; j < x.length; j++) x[j] = x[j] + dt * v[j];
            if (after != null) after.apply(x, timesteps[i + 1]);
            if (listener != null) listener.stepDone(i + 1, steps, x, guided);
        }
        return x;
    }

    /** v_neg + s * (v_pos - v_neg), elementwise in float32 in that order. */
    static float[] guide(float[] pos, float[] neg, float s) {
        checkLength(neg, pos.length);
        float[] v = new float[pos.length];
        for (int j = 0; j < v.length; j++) v[j] = neg[j] + s * (pos[j] - neg[j]);
        return v;
    }

    private static void checkLength(float[] v, int n) {
        if (v.length != n) throw new IllegalStateException("velocity has " + v.length + " values, latent has " + n);
    }
}
