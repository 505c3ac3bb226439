package fluxj.sampling;

/**
 * Flow-matching Euler integration from noise (t = 1) to image (t = 0), as the reference's {@code denoise}:
 * {@code x += (t_next - t) * v(x, t)} in float32, with optional true classifier-free guidance.
 */
public final class EulerSampler {
    /**
     * Called after each step with the new latent (at time {@code tNext}) and the velocity the step took;
     * {@code guided} says whether a negative pass was made.
     */
    @FunctionalInterface
    public interface StepListener {
        void stepDone(int step, int steps, float[] latent, float[] velocity, float tNext, boolean guided);
    }

    /** Asked after each step but the last (after the listener): true ends the integration there. */
    @FunctionalInterface
    public interface Stop {
        boolean after(int step);
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
        return sample(x, timesteps, positive, negative, cfg, after, listener, null);
    }

    /**
     * {@link #sample} that {@code stop} may end early (null: never). Stopped after a step, it returns the model's
     * estimate of the clean latent from that step ({@link #denoised}) instead of the latent at that step's time,
     * as AUTOMATIC1111 returns the last prediction of the clean image when interrupted.
     */
    public static float[] sample(float[] x, float[] timesteps, Velocity positive, Velocity negative, TrueCfg cfg, AfterStep after,
                                 StepListener listener, Stop stop) {
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
            if (listener != null) listener.stepDone(i + 1, steps, x, v, timesteps[i + 1], guided);
            if (stop != null && i + 1 < steps && stop.after(i + 1)) return denoised(x, v, timesteps[i + 1], after);
        }
        return x;
    }

    /**
     * The clean latent (t = 0) that the velocity {@code v} predicts from {@code x} at time {@code t}: the straight
     * path's end, {@code x - t v} (the same as one Euler step from the start of the step that gave {@code v} to 0),
     * with {@code after} applied at t = 0 (inpainting's known region is then the init latent itself). A new array.
     */
    public static float[] denoised(float[] x, float[] v, float t, AfterStep after) {
        checkLength(v, x.length);
        float[] d = new float[x.length];
        for (int j = 0; j < d.length; j++) d[j] = x[j] - t * v[j];
        if (after != null) after.apply(d, 0f);
        return d;
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
