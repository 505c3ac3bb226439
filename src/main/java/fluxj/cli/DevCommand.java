package fluxj.cli;

import fluxj.io.ModelKind;
import fluxj.tensor.DType;
import fluxj.tools.RandomCheckpoint;
import fluxj.tools.RandomGguf;
import fluxj.tools.RandomCheckpoint.ClipShape;
import fluxj.tools.RandomCheckpoint.FluxShape;
import fluxj.tools.RandomCheckpoint.Planned;
import fluxj.tools.RandomCheckpoint.T5Shape;
import fluxj.tools.RandomCheckpoint.VaeShape;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

/** {@code fluxj dev ...}: developer tools (test and benchmark inputs). */
@Command(name = "dev", description = "Developer tools.", subcommands = {DevCommand.MakeRandom.class})
public final class DevCommand implements Runnable {
    @Override
    public void run() {
        throw new CommandLine.ParameterException(new CommandLine(this), "name a tool (see fluxj dev --help)");
    }

    /** {@code fluxj dev make-random}: a random-weight checkpoint with real FLUX.1 names and shapes. */
    @Command(name = "make-random", description = {
            "Write a random-weight safetensors file with the real FLUX.1 component layout (names, shapes; sizes overridable).",
            "Defaults are the real sizes: flux = FLUX.1 transformer (19 double + 38 single blocks, BF16, about 24 GB),",
            "t5xxl = T5-XXL encoder (F16), distillt5 = DistillT5 (BF16), clip-l = CLIP-L text model (F16), vae = FLUX.1 ae (F32).",
            "An --out ending in .gguf writes GGUF (flux in city96's layout, t5xxl in llama.cpp's), with --dtype any GGUF type."})
    public static final class MakeRandom implements Callable<Integer> {
        enum Kind { flux, t5xxl, distillt5, clip_l, vae }

        enum Dtype {
            bf16(DType.BF16), f16(DType.F16), f32(DType.F32), fp8(DType.F8_E4M3),
            q8_0(DType.Q8_0), q4_0(DType.Q4_0), q4_1(DType.Q4_1), q5_0(DType.Q5_0), q5_1(DType.Q5_1), q2_k(DType.Q2_K), q3_k(DType.Q3_K),
            q4_k(DType.Q4_K), q5_k(DType.Q5_K), q6_k(DType.Q6_K), iq4_nl(DType.IQ4_NL), iq4_xs(DType.IQ4_XS);
            final DType type;

            Dtype(DType t) { type = t; }
        }

        enum LayoutName { bfl, diffusers }

        @Option(names = "--kind", required = true, converter = KindConverter.class, description = "flux, t5xxl, distillt5, clip-l or vae.")
        Kind kind;
        @Option(names = "--out", required = true, description = "The .safetensors or .gguf file to write.")
        Path out;
        @Option(names = "--dtype", description = "bf16, f16, f32 or fp8 (F8_E4M3 matrices, BF16 vectors); for .gguf also q8_0, q4_0, q4_1, "
                + "q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs. Default: as the real file.")
        Dtype dtype;
        @Option(names = "--layout", defaultValue = "bfl", description = "bfl (single-file names) or diffusers (diffusers / Hugging Face folder names).")
        LayoutName layout;
        @Option(names = "--seed", defaultValue = "0", description = "Seed of the values.")
        long seed;
        @Option(names = "--guidance", description = "flux: add the guidance embedder (a dev-type model).")
        boolean guidance;
        @Option(names = "--double", description = "flux: double-stream blocks (19).")
        Integer doubleBlocks;
        @Option(names = "--single", description = "flux: single-stream blocks (38).")
        Integer singleBlocks;
        @Option(names = "--layers", description = "t5xxl/distillt5/clip-l: encoder layers (24/12/12).")
        Integer layers;
        @Option(names = "--hidden", description = "Width: flux hidden (3072, heads of 128), T5 d_model (4096/768), CLIP width (768), VAE ch (128).")
        Integer hidden;
        @Option(names = "--heads", description = "t5xxl/distillt5/clip-l: attention heads (default hidden / 64).")
        Integer heads;
        @Option(names = "--ff", description = "MLP width: flux (4 x hidden), T5 d_ff (10240/2048), CLIP (4 x width).")
        Integer ff;
        @Option(names = "--vocab", description = "t5xxl/distillt5/clip-l: vocabulary rows (32128/49408).")
        Integer vocab;
        @Option(names = "--in-channels", description = "flux: img_in width (64 text-to-image, 128 Canny/Depth, 384 Fill).")
        Integer inChannels;
        @Option(names = "--context", description = "flux: txt_in width (4096).")
        Integer context;
        @Option(names = "--vec", description = "flux: vector_in width (768).")
        Integer vec;
        @Option(names = "--project-out", description = "distillt5: final_projection width (4096).")
        Integer projectOut;
        @Option(names = "--ch-mult", split = ",", description = "vae: channel multipliers (1,2,4,4).")
        List<Integer> chMult;

        @Spec
        CommandSpec spec;

        static final class KindConverter implements CommandLine.ITypeConverter<Kind> {
            @Override
            public Kind convert(String s) {
                try {
                    return Kind.valueOf(s.replace('-', '_'));
                } catch (IllegalArgumentException e) {
                    throw new CommandLine.TypeConversionException("expected flux, t5xxl, distillt5, clip-l or vae, not '" + s + "'");
                }
            }
        }

        private static int or(Integer v, int dflt) { return v == null ? dflt : v; }

        /** Rejects a size option the chosen kind has no use for, rather than ignoring it. */
        private void requireApplicable() {
            record Opt(String name, Object value, Set<Kind> kinds) {}
            Set<Kind> flux = EnumSet.of(Kind.flux), text = EnumSet.of(Kind.t5xxl, Kind.distillt5, Kind.clip_l);
            for (Opt o : List.of(new Opt("--double", doubleBlocks, flux), new Opt("--single", singleBlocks, flux),
                    new Opt("--guidance", guidance ? Boolean.TRUE : null, flux), new Opt("--in-channels", inChannels, flux),
                    new Opt("--context", context, flux), new Opt("--vec", vec, flux), new Opt("--layers", layers, text),
                    new Opt("--heads", heads, text), new Opt("--vocab", vocab, text), new Opt("--ff", ff, EnumSet.complementOf(EnumSet.of(Kind.vae))),
                    new Opt("--project-out", projectOut, EnumSet.of(Kind.distillt5)), new Opt("--ch-mult", chMult, EnumSet.of(Kind.vae)))) {
                if (o.value() != null && !o.kinds().contains(kind)) {
                    throw new CommandLine.ParameterException(spec.commandLine(), o.name() + " does not apply to --kind " + kind.name().replace('_', '-'));
                }
            }
        }

        /** The planned tensors for the options given. */
        List<Planned> plan() {
            requireApplicable();
            ModelKind.Layout l = layout == LayoutName.bfl ? ModelKind.Layout.BFL : ModelKind.Layout.DIFFUSERS;
            return switch (kind) {
                case flux -> {
                    FluxShape r = FluxShape.real();
                    int h = or(hidden, r.hidden());
                    if (h % 128 != 0) throw new CommandLine.ParameterException(spec.commandLine(), "--hidden must be a multiple of 128 (the head size)");
                    yield RandomCheckpoint.flux(new FluxShape(h, or(inChannels, r.inChannels()), or(context, r.contextDim()), or(vec, r.vecDim()),
                            or(ff, 4 * h), or(doubleBlocks, r.doubleBlocks()), or(singleBlocks, r.singleBlocks()), guidance), l, type(DType.BF16));
                }
                case t5xxl, distillt5 -> {
                    T5Shape r = kind == Kind.t5xxl ? T5Shape.xxl() : T5Shape.distill();
                    int d = or(hidden, r.dModel());
                    yield RandomCheckpoint.t5(new T5Shape(d, or(layers, r.layers()), or(heads, Math.max(1, d / 64)), r.dKv(),
                            or(ff, hidden == null ? r.dFf() : d * r.dFf() / r.dModel()), or(vocab, r.vocab()), r.buckets(),
                            kind == Kind.t5xxl ? 0 : or(projectOut, r.projectOut())), l, type(kind == Kind.t5xxl ? DType.F16 : DType.BF16));
                }
                case clip_l -> {
                    ClipShape r = ClipShape.large();
                    int w = or(hidden, r.width());
                    yield RandomCheckpoint.clip(new ClipShape(w, or(layers, r.layers()), or(heads, Math.max(1, w / 64)), or(ff, 4 * w),
                            or(vocab, r.vocab()), r.positions()), l, type(DType.F16));
                }
                case vae -> {
                    VaeShape r = VaeShape.flux();
                    yield RandomCheckpoint.vae(new VaeShape(or(hidden, r.ch()), chMult == null ? r.chMult() : chMult, r.resBlocks(), r.zChannels()),
                            l, type(DType.F32));
                }
            };
        }

        /** The dtype of the planned float tensors; GGUF block types are applied when writing. */
        private DType type(DType dflt) { return dtype == null || dtype.type.isBlock() ? dflt : dtype.type; }

        private boolean gguf() { return out.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".gguf"); }

        @Override
        public Integer call() throws IOException {
            if (gguf() && kind != Kind.flux && kind != Kind.t5xxl) {
                throw new CommandLine.ParameterException(spec.commandLine(), "GGUF files are written for --kind flux and t5xxl only");
            }
            if (gguf() && layout != LayoutName.bfl) throw new CommandLine.ParameterException(spec.commandLine(), "GGUF files use --layout bfl names");
            if (!gguf() && dtype != null && dtype.type.isBlock()) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--dtype " + dtype + " is a GGUF type: give an --out ending in .gguf");
            }
            if (gguf() && dtype == Dtype.fp8) throw new CommandLine.ParameterException(spec.commandLine(), "GGUF has no FP8 type");
            List<Planned> plan = plan();
            if (gguf()) {
                long t0 = System.nanoTime();
                DType t = dtype == null ? (kind == Kind.t5xxl ? DType.F16 : DType.BF16) : dtype.type;
                RandomGguf.write(out, plan, kind == Kind.t5xxl, t, seed);
                double s = (System.nanoTime() - t0) / 1e9;
                PrintWriter w = spec.commandLine().getOut();
                w.printf("wrote %s: %d tensors, %,d parameters, %,d bytes (%s) in %.1f s%n", out, plan.size(),
                        plan.stream().mapToLong(p -> p.spec().numel()).sum(), Files.size(out), t, s);
                w.flush();
                return 0;
            }
            long bytes = plan.stream().mapToLong(p -> p.spec().byteSize()).sum();
            long params = plan.stream().mapToLong(p -> p.spec().numel()).sum();
            long t0 = System.nanoTime();
            RandomCheckpoint.write(out, plan, seed);
            double s = (System.nanoTime() - t0) / 1e9;
            PrintWriter w = spec.commandLine().getOut();
            w.printf("wrote %s: %d tensors, %,d parameters, %,d bytes in %.1f s (%.0f MB/s)%n", out, plan.size(), params,
                    Files.size(out), s, bytes / 1e6 / Math.max(s, 1e-9));
            w.flush();
            return 0;
        }
    }
}
