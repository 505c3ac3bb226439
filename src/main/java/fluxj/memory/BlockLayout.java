package fluxj.memory;

import fluxj.io.Checkpoint;
import fluxj.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A checkpoint's repeated blocks in execution order (double-stream before single-stream, by index), each with
 * its tensors: what the planner sizes and the streamer pages. Works on BFL, ComfyUI and diffusers names.
 */
public record BlockLayout(List<String> names, List<List<Tensor>> blocks, long otherBytes) {
    // Order matters: the double-stream families run before the single-stream ones.
    private static final List<Pattern> FAMILIES = List.of(
            Pattern.compile("(?:^|\\.)(double_blocks)\\.(\\d+)\\."),
            Pattern.compile("(?:^|\\.)(transformer_blocks)\\.(\\d+)\\."),
            Pattern.compile("(?:^|\\.)(single_blocks)\\.(\\d+)\\."),
            Pattern.compile("(?:^|\\.)(single_transformer_blocks)\\.(\\d+)\\."),
            Pattern.compile("(?:^|\\.)(block)\\.(\\d+)\\."),
            Pattern.compile("(?:^|\\.)(layers)\\.(\\d+)\\."));

    public static BlockLayout of(Checkpoint ck) {
        List<Map<Integer, List<Tensor>>> byFamily = new ArrayList<>();
        for (int i = 0; i < FAMILIES.size(); i++) byFamily.add(new TreeMap<>());
        long other = 0;
        for (var e : ck.tensors().entrySet()) {
            int fam = -1;
            int index = -1;
            for (int i = 0; i < FAMILIES.size() && fam < 0; i++) {
                Matcher m = FAMILIES.get(i).matcher(e.getKey());
                // "single_transformer_blocks" also contains "transformer_blocks": require the family name to start the match.
                if (m.find() && (m.start(1) == 0 || e.getKey().charAt(m.start(1) - 1) == '.')) {
                    fam = i;
                    index = Integer.parseInt(m.group(2));
                }
            }
            if (fam < 0) {
                other += e.getValue().data().byteSize();
            } else {
                byFamily.get(fam).computeIfAbsent(index, k -> new ArrayList<>()).add(e.getValue());
            }
        }
        List<String> names = new ArrayList<>();
        List<List<Tensor>> blocks = new ArrayList<>();
        for (int i = 0; i < FAMILIES.size(); i++) {
            String fam = FAMILIES.get(i).pattern().replaceAll(".*\\(([a-z_]+)\\).*", "$1");
            for (var b : byFamily.get(i).entrySet()) {
                names.add(fam + "." + b.getKey());
                blocks.add(List.copyOf(b.getValue()));
            }
        }
        return new BlockLayout(List.copyOf(names), List.copyOf(blocks), other);
    }

    public long blockBytes(int i) { return blocks.get(i).stream().mapToLong(t -> t.data().byteSize()).sum(); }

    public long largestBlockBytes() {
        long m = 0;
        for (int i = 0; i < blocks.size(); i++) m = Math.max(m, blockBytes(i));
        return m;
    }

    /** The mapped memory of each block, for {@link BlockStreamer}. */
    public List<List<MemorySegment>> segments() {
        return blocks.stream().map(b -> b.stream().map(Tensor::data).toList()).toList();
    }
}
