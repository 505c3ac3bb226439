package fluxj.sampling;

/** The model's predicted velocity dx/dt at latent {@code x} and time {@code t}, for one fixed conditioning. */
@FunctionalInterface
public interface Velocity {
    float[] at(float[] x, float t);
}
