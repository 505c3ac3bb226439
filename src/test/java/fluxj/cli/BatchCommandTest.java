package fluxj.cli;

import fluxj.io.Json;
import fluxj.pipeline.Infotext;
import fluxj.pipeline.PngFiles;
import fluxj.testing.Cli;
import fluxj.testing.Cli.Run;
import fluxj.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code fluxj batch} on the tiny fixture model, driven through Main (and once as a separate process, killed). */
class BatchCommandTest {
    @TempDir
    Path dir;

    private static String model() {
        return Fixtures.model("flux1-tiny-schnell").toString();
    }

    private static List<Map<String, Object>> results(Path file) throws IOException {
        List<Map<String, Object>> out = new ArrayList<>();
        for (String l : Files.readAllLines(file)) {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) Json.parse(l);
            out.add(m);
        }
        return out;
    }

    private static String sha256(Path f) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f)));
    }

    /** Each row's image, byte for byte the file {@code fluxj generate} writes with the same options; bad rows reported, the rest done. */
    @Test
    void rowsGiveTheImagesOfGenerateAndBadRowsDoNotStopTheOthers() throws Exception {
        Path manifest = dir.resolve("rows.csv");
        Files.writeString(manifest, """
                id,prompt,negative_prompt,seed,width,height,steps,cfg_scale
                cat,"a photo of a cat, on a red sofa",,42,64,64,2,
                wide,a lighthouse at dawn,,7,96,48,1,
                odd,a size that is no multiple of 16,,1,100,64,1,
                cfg,"a cabin, ""snowy"" mountains",blurry,3,48,64,2,2.5
                ,no id here,,1,64,64,1,
                """);
        Path out = dir.resolve("out");
        Run r = Cli.run("batch", "--manifest", manifest.toString(), "--output-dir", out.toString(), "--model", model(), "--quiet");
        assertEquals(1, r.code(), "some rows were refused: " + r.err());
        assertTrue(r.err().contains("rows.csv line 4: width must be a multiple of 16"), r.err());
        assertTrue(r.err().contains("rows.csv line 6: no id"), r.err());
        assertTrue(r.err().contains("5 rows: 3 generated, 0 skipped (already there), 0 failed, 2 invalid"), r.err());

        String[][] generate = {
                {"cat", "--prompt", "a photo of a cat, on a red sofa", "--seed", "42", "--width", "64", "--height", "64", "--steps", "2"},
                {"wide", "--prompt", "a lighthouse at dawn", "--seed", "7", "--width", "96", "--height", "48", "--steps", "1"},
                {"cfg", "--prompt", "a cabin, \"snowy\" mountains", "--negative-prompt", "blurry", "--cfg-scale", "2.5", "--seed", "3", "--width", "48", "--height", "64", "--steps", "2"}};
        Map<String, Map<String, Object>> byId = new HashMap<>();
        for (Map<String, Object> row : results(out.resolve("results.jsonl"))) byId.put(String.valueOf(row.get("id")), row);
        for (String[] g : generate) {
            Path single = dir.resolve(g[0] + "-single.png");
            List<String> args = new ArrayList<>(List.of("generate", "--model", model(), "--output", single.toString(), "--quiet"));
            args.addAll(List.of(g).subList(1, g.length));
            Run gr = Cli.run(args.toArray(String[]::new));
            assertEquals(0, gr.code(), gr.err());
            Path batch = out.resolve(g[0] + ".png");
            assertArrayEquals(Files.readAllBytes(single), Files.readAllBytes(batch), g[0] + ": the batch PNG differs from generate's");
            Map<String, Object> row = byId.get(g[0]);
            assertEquals("generated", row.get("status"));
            assertEquals(batch.toString(), row.get("file"));
            assertEquals(sha256(batch), row.get("sha256"));
            assertEquals(Long.parseLong(g[Arrays.asList(g).indexOf("--seed") + 1]), row.get("seed"));
            assertTrue(((Number) row.get("seconds")).doubleValue() > 0);
            assertNull(row.get("error"));
        }
        Map<String, Object> odd = byId.get("odd");
        assertEquals("invalid", odd.get("status"));
        assertEquals(4L, odd.get("line"));
        assertFalse(Files.exists(out.resolve("odd.png")));
        try (Stream<Path> files = Files.list(out)) {
            assertEquals(List.of("cat.png", "cfg.png", "results.jsonl", "wide.png"), files.map(p -> p.getFileName().toString()).sorted().toList(), "no temporary files left");
        }

        // A second run finds everything done: nothing regenerated, nothing rewritten, no model loaded.
        long before = Files.getLastModifiedTime(out.resolve("cat.png")).toMillis();
        r = Cli.run("batch", "--manifest", manifest.toString(), "--output-dir", out.toString(), "--model", dir.resolve("no-such-model").toString(), "--quiet");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("0 generated, 3 skipped"), r.err());
        assertEquals(before, Files.getLastModifiedTime(out.resolve("cat.png")).toMillis());
        List<Map<String, Object>> all = results(out.resolve("results.jsonl"));
        assertEquals(10, all.size(), "the resumed run appends its own lines");
        assertEquals(sha256(out.resolve("cat.png")), all.stream().filter(m -> "cat".equals(m.get("id")) && "skipped".equals(m.get("status"))).findFirst().orElseThrow().get("sha256"));
    }

    /** Rows with input images: img2img and inpainting, as generate makes them from the same files; bad image fields refused. */
    @Test
    void imageRowsGiveTheImagesOfGenerate() throws Exception {
        Path cases = Fixtures.root().resolve("cases");
        Path init1 = cases.resolve("pi01_img2img_schnell/init.png"), init2 = cases.resolve("pi02_inpaint_schnell/init.png"),
                mask2 = cases.resolve("pi02_inpaint_schnell/mask.png");
        Files.copy(init1, dir.resolve("barn.png"));
        Path manifest = dir.resolve("edits.jsonl");
        Files.writeString(manifest, String.join("\n",
                "{\"id\":\"i2i\",\"prompt\":\"a watercolor barn\",\"seed\":101,\"steps\":4,\"init_image\":\"" + init1 + "\",\"strength\":0.6}",
                "{\"id\":\"relative\",\"prompt\":\"a watercolor barn\",\"seed\":101,\"steps\":4,\"init_image\":\"barn.png\",\"strength\":0.6}",
                "{\"id\":\"inpaint\",\"prompt\":\"yellow tulips\",\"seed\":102,\"steps\":4,\"init_image\":\"" + init2 + "\",\"mask\":\"" + mask2 + "\",\"strength\":0.75}",
                "{\"id\":\"nomask\",\"prompt\":\"x\",\"mask\":\"m.png\"}",
                "{\"id\":\"strong\",\"prompt\":\"x\",\"init_image\":\"barn.png\",\"strength\":1.5}",
                "{\"id\":\"gone\",\"prompt\":\"x\",\"init_image\":\"missing.png\"}", ""));
        Path out = dir.resolve("out");
        Run r = Cli.run("batch", "--manifest", manifest.toString(), "--output-dir", out.toString(), "--model", model(), "--quiet");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("edits.jsonl line 4: mask needs init_image"), r.err());
        assertTrue(r.err().contains("edits.jsonl line 5: strength must be between 0 and 1"), r.err());
        assertTrue(r.err().contains("edits.jsonl line 6 (gone): ") && r.err().contains("missing.png"), r.err());
        assertTrue(r.err().contains("3 generated, 0 skipped (already there), 1 failed, 2 invalid"), r.err());

        String[][] generate = {
                {"i2i", "--prompt", "a watercolor barn", "--seed", "101", "--init-image", init1.toString(), "--strength", "0.6"},
                {"inpaint", "--prompt", "yellow tulips", "--seed", "102", "--init-image", init2.toString(), "--mask", mask2.toString(), "--strength", "0.75"}};
        for (String[] a : generate) {
            Path single = dir.resolve(a[0] + "-single.png");
            List<String> args = new ArrayList<>(List.of("generate", "--model", model(), "--steps", "4", "--output", single.toString(), "--quiet"));
            args.addAll(List.of(a).subList(1, a.length));
            Run g = Cli.run(args.toArray(String[]::new));
            assertEquals(0, g.code(), g.err());
            assertArrayEquals(Files.readAllBytes(single), Files.readAllBytes(out.resolve(a[0] + ".png")), a[0]);
        }
        // A name relative to the manifest's folder is read from there and recorded as written.
        assertArrayEquals(PngFiles.readImage(out.resolve("i2i.png")).rgb(), PngFiles.readImage(out.resolve("relative.png")).rgb());
        assertEquals("barn.png", Infotext.parse(PngFiles.readParameters(out.resolve("relative.png")).orElseThrow()).fields().get("Init image"));
    }

    /** Rows with LoRAs (the loras field and prompt tags with --lora-dir), as generate applies them; the pipeline switches LoRAs between rows. */
    @Test
    void loraRowsGiveTheImagesOfGenerate() throws Exception {
        Path loras = Fixtures.model("flux1-tiny-lora"), kohya = loras.resolve("flux1-tiny-schnell-lora-kohya.safetensors");
        Path manifest = dir.resolve("styles.jsonl");
        Files.writeString(manifest, String.join("\n",
                "{\"id\":\"kohya\",\"prompt\":\"a boat on a lake\",\"seed\":5,\"width\":32,\"height\":32,\"steps\":2,\"loras\":[\"" + kohya + ":0.8\"]}",
                "{\"id\":\"plain\",\"prompt\":\"a boat on a lake\",\"seed\":5,\"width\":32,\"height\":32,\"steps\":2}",
                "{\"id\":\"tag\",\"prompt\":\"a boat <lora:flux1-tiny-schnell-lora-peft:0.5> on a lake\",\"seed\":5,\"width\":32,\"height\":32,\"steps\":2}",
                "{\"id\":\"gone\",\"prompt\":\"x\",\"width\":32,\"height\":32,\"loras\":[\"missing.safetensors:0.5\"]}",
                "{\"id\":\"badtag\",\"prompt\":\"x <lora:style:strong>\"}", ""));
        Path out = dir.resolve("out");
        Run r = Cli.run("batch", "--manifest", manifest.toString(), "--output-dir", out.toString(), "--model", model(), "--lora-dir", loras.toString(), "--quiet");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("styles.jsonl line 5: prompt tag <lora:style:strong>"), r.err());
        assertTrue(r.err().contains("styles.jsonl line 4 (gone): LoRA ") && r.err().contains("missing.safetensors: no such file"), r.err());
        assertTrue(r.err().contains("3 generated, 0 skipped (already there), 1 failed, 1 invalid"), r.err());
        String[][] generate = {
                {"kohya", "--prompt", "a boat on a lake", "--lora", kohya + ":0.8"},
                {"plain", "--prompt", "a boat on a lake"},
                {"tag", "--prompt", "a boat <lora:flux1-tiny-schnell-lora-peft:0.5> on a lake", "--lora-dir", loras.toString()}};
        for (String[] a : generate) {
            Path single = dir.resolve(a[0] + "-single.png");
            List<String> args = new ArrayList<>(List.of("generate", "--model", model(), "--seed", "5", "--width", "32", "--height", "32", "--steps", "2",
                    "--output", single.toString(), "--quiet"));
            args.addAll(List.of(a).subList(1, a.length));
            Run g = Cli.run(args.toArray(String[]::new));
            assertEquals(0, g.code(), g.err());
            assertArrayEquals(Files.readAllBytes(single), Files.readAllBytes(out.resolve(a[0] + ".png")), a[0]);
        }
        assertFalse(Arrays.equals(PngFiles.readImage(out.resolve("kohya.png")).rgb(), PngFiles.readImage(out.resolve("plain.png")).rgb()), "the LoRA changed the image");
    }

    @Test
    void shardsTogetherMakeEveryImageExactlyOnce() throws Exception {
        Path manifest = dir.resolve("rows.jsonl");
        StringBuilder rows = new StringBuilder();
        for (int i = 0; i < 7; i++) rows.append("{\"id\":\"r").append(i).append("\",\"prompt\":\"row ").append(i).append("\",\"width\":32,\"height\":32,\"steps\":1}\n");
        rows.append("{\"id\":\"r7\",\"prompt\":\"x\",\"size\":32}\n");
        Files.writeString(manifest, rows);
        Path out = dir.resolve("out");
        Map<String, Integer> seen = new HashMap<>();
        for (int s = 0; s < 3; s++) {
            Run r = Cli.run("batch", "--manifest", manifest.toString(), "--output-dir", out.toString(), "--model", model(), "--shard", s + "/3", "--quiet");
            assertEquals(s == 1 ? 1 : 0, r.code(), "row 7 (shard 1) is refused: " + r.err());
            for (Map<String, Object> row : results(out.resolve("results-" + s + "-of-3.jsonl"))) {
                seen.merge((String) row.get("id") + "", 1, Integer::sum);
                int line = ((Number) row.get("line")).intValue();
                assertEquals(s, (line - 1) % 3, "row on line " + line + " taken by shard " + s);
            }
        }
        assertEquals(8, seen.size());
        seen.forEach((id, n) -> assertEquals(1, n, id + " done by " + n + " shards"));
        for (int i = 0; i < 7; i++) {
            Path png = out.resolve("r" + i + ".png");
            assertEquals("row " + i, Infotext.parse(PngFiles.readParameters(png).orElseThrow()).prompt());
        }

        Run r = Cli.run("batch", "--manifest", manifest.toString(), "--output-dir", out.toString(), "--shard", "3/3");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("between 0 and 2"), r.err());
        r = Cli.run("batch", "--manifest", manifest.toString(), "--output-dir", out.toString(), "--shard", "0/2", "--shards", "2");
        assertEquals(2, r.code());
    }

    @Test
    void unreadableManifestsAreUsageErrors() throws IOException {
        Path csv = dir.resolve("m.csv");
        Files.writeString(csv, "id,prompt,colour\na,b,c\n");
        Run r = Cli.run("batch", "--manifest", csv.toString(), "--output-dir", dir.resolve("o").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("line 1: unknown column 'colour'"), r.err());
        assertFalse(Files.exists(dir.resolve("o")), "nothing written");
        r = Cli.run("batch", "--manifest", dir.resolve("none.jsonl").toString(), "--output-dir", dir.resolve("o").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("none.jsonl"), r.err());
        Files.writeString(csv, "id,prompt\na,b\nc\n");
        r = Cli.run("batch", "--manifest", csv.toString(), "--output-dir", dir.resolve("o").toString(), "--check");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("m.csv line 3: has 1 fields, the header 2") && r.err().contains("2 rows, 1 valid, 1 invalid"), r.err());
    }

    /**
     * A run killed (SIGKILL) while it works leaves only whole images; the next run makes exactly the missing ones.
     * The shard comes from JOB_COMPLETION_INDEX, as in a Kubernetes Indexed Job.
     */
    @Test
    void aKilledRunResumesWhereItStopped() throws Exception {
        Path manifest = dir.resolve("rows.jsonl");
        StringBuilder rows = new StringBuilder();
        for (int i = 0; i < 16; i++) rows.append("{\"id\":\"k").append(i).append("\",\"prompt\":\"image ").append(i).append("\",\"seed\":").append(i).append(",\"width\":48,\"height\":48,\"steps\":4}\n");
        Files.writeString(manifest, rows);
        Path out = dir.resolve("out");
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder pb = new ProcessBuilder(java.toString(), "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "fluxj.cli.Main", "batch", "--manifest", manifest.toString(),
                "--output-dir", out.toString(), "--model", model(), "--shards", "2", "--quiet")
                .redirectErrorStream(true).redirectOutput(dir.resolve("killed.log").toFile());
        pb.environment().put("JOB_COMPLETION_INDEX", "1");
        Process p = pb.start();
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (pngs(out) < 1 && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(10);
        p.destroyForcibly().waitFor(); // SIGKILL: no shutdown hooks, no cleanup
        int done = pngs(out);
        assertTrue(done >= 1 && done < 8, "killed after " + done + " of the shard's 8 images: " + Files.readString(dir.resolve("killed.log")));
        for (Map<String, Object> row : results(out.resolve("results-1-of-2.jsonl"))) assertEquals("generated", row.get("status"));

        Run r = Cli.run("batch", "--manifest", manifest.toString(), "--output-dir", out.toString(), "--model", model(), "--shard", "1/2", "--quiet");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains((8 - done) + " generated, " + done + " skipped"), r.err());
        try (Stream<Path> files = Files.list(out)) {
            List<String> names = files.map(f -> f.getFileName().toString()).sorted().toList();
            assertEquals(9, names.size(), "8 images and the results, no leftovers: " + names);
        }
        for (int i = 1; i < 16; i += 2) {
            Path png = out.resolve("k" + i + ".png");
            assertEquals(String.valueOf(i), Infotext.parse(PngFiles.readParameters(png).orElseThrow()).fields().get("Seed"));
            assertEquals(48, PngFiles.readImage(png).width());
        }
        Path single = dir.resolve("single.png");
        Run g = Cli.run("generate", "--model", model(), "--prompt", "image 15", "--seed", "15", "--width", "48", "--height", "48", "--steps", "4", "--output", single.toString(), "--quiet");
        assertEquals(0, g.code(), g.err());
        assertArrayEquals(Files.readAllBytes(single), Files.readAllBytes(out.resolve("k15.png")));
    }

    private static int pngs(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return 0;
        try (Stream<Path> s = Files.list(dir)) {
            return (int) s.filter(f -> f.getFileName().toString().endsWith(".png")).count();
        }
    }
}
