package fluxj.sampling;

/**
 * True classifier-free guidance with a guidance interval: at a step starting at time t with
 * {@code lo < t <= hi}, {@code v = v_neg + scale * (v_pos - v_neg)}; other steps use v_pos alone and make no
 * negative pass. t is the flow-matching time in [0, 1] (1 = pure noise) after any resolution shift; an interval
 * given in EDM sigma maps to it by {@code t = sigma / (1 + sigma)}.
 */
public record TrueCfg(double scale, double lo, double hi) {
    /** Guidance over the whole schedule: every step with t in (0, 1]. */
    public static TrueCfg of(double scale) {
        return new TrueCfg(scale, 0.0, 1.0);
    }

    public TrueCfg {
        if (!Double.isFinite(scale)) throw new IllegalArgumentException("cfg scale must be a finite number, got " + scale);
        if (!(lo >= 0 && hi <= 1 && lo < hi)) {
            throw new IllegalArgumentException("guidance interval must satisfy 0 <= LO < HI <= 1 (times t in [0,1], 1 = noise), got " + lo + "," + hi);
        }
    }

    /** Whether the step starting at t is guided (compared as the reference does, in double). */
    public boolean appliesAt(float t) {
        return lo < t && t <= hi;
    }
}
