package fluxj.tensor.onednn;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Finds oneDNN on this system, once per process: {@code FLUXJ_ONEDNN} (a library file) when set, else the
 * platform's usual names (Debian/Ubuntu {@code libdnnl2}/{@code libdnnl3}, Homebrew {@code onednn}). A library
 * counts as found when it opens, has a 2.x or 3.x API and can build a bf16 matmul on this CPU.
 */
public final class OneDnnLibrary {
    /** The outcome of the search. */
    public sealed interface Found permits Loaded, Missing {}

    /** oneDNN is usable; {@code impl} is the implementation oneDNN picks for a bf16 matmul (e.g. brg:avx512_core_bf16). */
    public record Loaded(String file, String version, String impl, boolean cpuBf16, String cpuReason, Dnnl dnnl) implements Found {
        public String describe() {
            String threads = dnnl == null || dnnl.ompThreads == 0 ? "" : ", " + dnnl.ompThreads + " OpenMP threads";
            return "oneDNN " + version + " bf16 matmul (" + file + ", " + impl + threads + ")";
        }
    }

    /** oneDNN is not usable, and why. */
    public record Missing(String reason) implements Found {}

    private static final class Holder {
        static final Found FOUND = search(System.getenv(), System.getProperty("os.name", ""));
    }

    private OneDnnLibrary() {}

    public static Found found() { return Holder.FOUND; }

    /**
     * The implementations of oneDNN's bf16 kernels in this process: the one it picks for a matmul of FLUX's size
     * (1024 x 3072 x 3072, made once and not run: small products may get other kernels) and those of every
     * product, convolution and attention run so far, e.g. {@code brg:avx512_core_amx_bf16} (AMX tiles) or
     * {@code brg:avx512_core_bf16} (AVX-512 bf16 dot products). Empty without the library.
     */
    public static List<String> implementations() {
        if (!(found() instanceof Loaded)) return List.of();
        TreeSet<String> s = new TreeSet<>();
        s.add(Probe.LARGE);
        s.addAll(OneDnnMatmul.implementations());
        s.addAll(OneDnnConv.implementations());
        s.addAll(OneDnnAttention.implementations());
        return List.copyOf(s);
    }

    /**
     * The ISA cap oneDNN obeys, e.g. "ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16" (oneDNN reads the variable itself; 2.x
     * also reads DNNL_MAX_CPU_ISA), or null when none is set.
     */
    public static String isaCap() {
        for (String name : List.of("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")) {
            String v = System.getenv(name);
            if (v != null && !v.isBlank()) return name + "=" + v.strip();
        }
        return null;
    }

    private static final class Probe {
        static final String LARGE = large();

        private static String large() {
            Dnnl.Primitive p;
            try {
                p = require().dnnl().matmul(1024, 3072, 3072);
            } catch (RuntimeException e) {
                return "no bf16 matmul of 1024x3072x3072 (" + e.getMessage() + ")";
            }
            try {
                return p.impl;
            } finally {
                p.destroy();
            }
        }
    }

    /** The loaded library, or an error saying why there is none. */
    static Loaded require() {
        return switch (found()) {
            case Loaded l -> l;
            case Missing m -> throw new IllegalStateException("oneDNN matmul unavailable: " + m.reason());
        };
    }

    static Found search(Map<String, String> env, String os) {
        // OpenMP threads otherwise spin for milliseconds after each oneDNN call, taking the cores from the Java
        // pool that runs next; the runtime reads this when oneDNN loads it. A user's own setting wins.
        if (!env.containsKey("OMP_WAIT_POLICY")) setenv("OMP_WAIT_POLICY", "PASSIVE");
        List<String> absent = new ArrayList<>(), unusable = new ArrayList<>();
        for (String candidate : candidates(env, os)) {
            try {
                Dnnl dnnl = Dnnl.open(candidate);
                Dnnl.Primitive probe = dnnl.matmul(16, 32, 16);
                probe.destroy();
                Cpu cpu = cpu(dnnl);
                return new Loaded(candidate, dnnl.version, probe.impl, cpu.bf16(), cpu.reason(), dnnl);
            } catch (IllegalArgumentException notOpened) {
                if (Files.isRegularFile(Path.of(candidate))) unusable.add(candidate + ": the dynamic loader cannot open it");
                else absent.add(candidate);
            } catch (RuntimeException | LinkageError e) {
                // A broken or foreign library must leave the Java path running, never stop the program.
                unusable.add(candidate + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            }
        }
        if (!unusable.isEmpty()) return new Missing("oneDNN found but not usable (" + String.join("; ", unusable) + ")");
        String install = os.startsWith("Mac") ? "brew install onednn" : "apt-get install libdnnl2 (Debian/Ubuntu)";
        return new Missing("no oneDNN library found (tried " + String.join(", ", absent) + "); install it (" + install
                + ") or set FLUXJ_ONEDNN to the library file");
    }

    /**
     * Library names and paths to try, in order: an explicit FLUXJ_ONEDNN alone; else the names the dynamic loader
     * resolves, then versioned files in the usual library folders (distributions name the file by minor version,
     * e.g. libdnnl.so.3.6).
     */
    static List<String> candidates(Map<String, String> env, String os) {
        String explicit = env.get("FLUXJ_ONEDNN");
        if (explicit != null && !explicit.isBlank()) return List.of(explicit);
        List<String> c = new ArrayList<>();
        List<String> dirs = new ArrayList<>();
        String prefix;
        if (os.startsWith("Mac")) {
            c.addAll(List.of("/opt/homebrew/lib/libdnnl.dylib", "/usr/local/lib/libdnnl.dylib", "libdnnl.dylib"));
            dirs.addAll(List.of("/opt/homebrew/lib", "/usr/local/lib"));
            prefix = "libdnnl.";
        } else if (os.startsWith("Windows")) {
            return List.of("dnnl.dll");
        } else {
            c.addAll(List.of("libdnnl.so.3", "libdnnl.so.2", "libdnnl.so"));
            String ld = env.getOrDefault("LD_LIBRARY_PATH", "");
            if (!ld.isBlank()) dirs.addAll(List.of(ld.split(":")));
            dirs.addAll(List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"));
            prefix = "libdnnl.so.";
        }
        for (String dir : dirs) {
            try (var files = Files.list(Path.of(dir))) {
                files.map(Path::toString).filter(f -> Path.of(f).getFileName().toString().startsWith(prefix))
                        .sorted(Comparator.reverseOrder()).filter(f -> !c.contains(f)).forEach(c::add);
            } catch (IOException | RuntimeException unreadable) {
                // A missing or unreadable folder just holds no candidates.
            }
        }
        return c;
    }

    private static void setenv(String name, String value) {
        Linker linker = Linker.nativeLinker();
        linker.defaultLookup().find("setenv").ifPresent(f -> {
            try (Arena a = Arena.ofConfined()) {
                MethodHandle h = linker.downcallHandle(f, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
                int status = (int) h.invokeExact(a.allocateFrom(name), a.allocateFrom(value), 0);
                if (status != 0) System.getLogger("fluxj.matmul").log(System.Logger.Level.DEBUG, "setenv " + name + " failed");
            } catch (Throwable t) {
                throw new IllegalStateException("setenv " + name, t);
            }
        });
    }

    /** Whether the CPU has BF16 dot-product instructions, and the evidence. */
    record Cpu(boolean bf16, String reason) {}

    /** From /proc/cpuinfo where there is one, else from oneDNN's ISA query. */
    private static Cpu cpu(Dnnl dnnl) {
        Optional<String> flags = cpuFlags(Path.of("/proc/cpuinfo"));
        if (flags.isPresent()) return fromFlags(flags.get());
        int isa = dnnl.effectiveCpuIsa();
        // dnnl_cpu_isa_avx512_core_bf16 is 0xe7; every later x86 ISA with bf16 dot products contains its bits.
        boolean bf16 = (isa & 0xe7) == 0xe7;
        return new Cpu(bf16, "CPU " + (bf16 ? "has" : "lacks") + " BF16 dot products (oneDNN ISA 0x" + Integer.toHexString(isa) + ")");
    }

    static Cpu fromFlags(String flags) {
        List<String> f = List.of(flags.trim().split("\\s+"));
        for (String isa : List.of("amx_bf16", "avx512_bf16")) {
            if (f.contains(isa)) return new Cpu(true, "CPU has " + isa);
        }
        return new Cpu(false, "CPU lacks avx512_bf16 and amx_bf16");
    }

    /** The "flags" line of a Linux /proc/cpuinfo, if readable. */
    static Optional<String> cpuFlags(Path cpuinfo) {
        try (var lines = Files.lines(cpuinfo)) {
            return lines.filter(l -> l.startsWith("flags")).findFirst().map(l -> l.substring(l.indexOf(':') + 1));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }
}
