package fluxj.sampling;

/**
 * The 32-bit Mersenne Twister (mt19937) exactly as {@code std::mt19937} and PyTorch's CPU generator run it:
 * Knuth's initialisation from a 32-bit seed, untempered state of 624 words, standard tempering.
 */
final class MersenneTwister {
    private static final int N = 624, M = 397;
    private final int[] state = new int[N];
    private int next;

    MersenneTwister(int seed) {
        state[0] = seed;
        for (int i = 1; i < N; i++) state[i] = 1812433253 * (state[i - 1] ^ (state[i - 1] >>> 30)) + i;
        next = N;
    }

    /** The next 32-bit output, as an int holding the unsigned bits. */
    int nextInt() {
        if (next == N) twist();
        int y = state[next++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        return y ^ (y >>> 18);
    }

    private void twist() {
        for (int i = 0; i < N; i++) {
            int y = (state[i] & 0x80000000) | (state[(i + 1) % N] & 0x7fffffff);
            int v = state[(i + M) % N] ^ (y >>> 1);
            state[i] = (y & 1) != 0 ? v ^ 0x9908b0df : v;
        }
        next = 0;
    }
}
