package fluxj.batch;

/**
 * Which rows one of {@code count} workers takes: those whose index mod {@code count} is {@code index}, so N
 * workers given 0/N .. N-1/N cover every row exactly once whatever they each find already done.
 */
public record Shard(int index, int count) {
    public static final Shard ALL = new Shard(0, 1);

    public Shard {
        if (count < 1) throw new IllegalArgumentException("the shard count must be at least 1, got " + count);
        if (index < 0 || index >= count) throw new IllegalArgumentException("the shard index must be between 0 and " + (count - 1) + ", got " + index);
    }

    /** {@code I/N}, e.g. {@code 0/4}. */
    public static Shard parse(String s) {
        String[] p = s.strip().split("/");
        try {
            if (p.length == 2) return new Shard(Integer.parseInt(p[0].strip()), Integer.parseInt(p[1].strip()));
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("a shard is I/N with 0 <= I < N (e.g. 0/4), got '" + s + "'");
    }

    /**
     * Shard {@code index} of {@code count} from a job index as Kubernetes Indexed Jobs set it
     * ({@code JOB_COMPLETION_INDEX}).
     */
    public static Shard ofJobIndex(String index, int count, String variable) {
        try {
            return new Shard(Integer.parseInt(index.strip()), count);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(variable + " must be a whole number, got '" + index + "'");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(variable + "=" + index + ": " + e.getMessage());
        }
    }

    public boolean takes(int rowIndex) {
        return Math.floorMod(rowIndex, count) == index;
    }

    public boolean whole() {
        return count == 1;
    }

    @Override
    public String toString() {
        return index + "/" + count;
    }
}
