package fluxj.spark;

import fluxj.cli.Main;
import fluxj.testing.Fixtures;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Spark job in local mode on the tiny fixture model: two worker threads, up to two attempts per task, one
 * task made to fail once (a marker file remembers it did), every image compared with {@code fluxj generate}'s.
 */
class SparkBatchTest {
    static SparkSession spark;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        Fixtures.root();
        spark = SparkSession.builder().master("local[2,2]").appName("fluxj-spark-test")
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
                .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                .getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    private static String model() {
        return Fixtures.model("flux1-tiny-schnell").toString();
    }

    private SparkBatch job(Path manifest, Path out) {
        SparkBatch job = new SparkBatch();
        new CommandLine(job).parseArgs("--manifest", manifest.toUri().toString(), "--output-dir", out.toUri().toString(),
                "--model", model(), "--partitions", "2");
        return job;
    }

    @Test
    void everyRowOnceAndAsGenerateMakesItDespiteAFailedTask() throws Exception {
        Path manifest = dir.resolve("rows.jsonl");
        String[][] rows = {
                {"a", "a red apple on a table", "1", "32", "32", "1"},
                {"b", "a lighthouse at dawn", "2", "48", "32", "2"},
                {"c", "a cabin in the snow", "3", "32", "48", "1"},
                {"d", "a cat on a sofa", "4", "32", "32", "2"},
                {"e", "a bowl of soup", "5", "48", "48", "1"}};
        StringBuilder text = new StringBuilder();
        for (String[] r : rows) {
            text.append(String.format("{\"id\":\"%s\",\"prompt\":\"%s\",\"seed\":%s,\"width\":%s,\"height\":%s,\"steps\":%s}%n", (Object[]) r));
        }
        text.append("{\"id\":\"f\",\"prompt\":\"a size off the grid\",\"width\":40}\n");
        Files.writeString(manifest, text);
        Path out = dir.resolve("out");
        String marker = dir.resolve("failed-once").toString();
        // Row d is the second row of the second task (rows are split in order): the failed attempt has already
        // stored c, which the retry must find and keep.
        RowHook failOnce = row -> {
            if (row.id().equals("d") && !Files.exists(Path.of(marker))) {
                Files.createFile(Path.of(marker));
                throw new IllegalStateException("injected failure of the first attempt at row d");
            }
        };
        SparkBatch.Summary s = job(manifest, out).run(spark, failOnce);
        assertTrue(Files.exists(Path.of(marker)), "the failure was injected");
        assertEquals(1L, s.counts().get("invalid"));
        assertEquals(0L, s.counts().get("failed"));
        assertEquals(5L, s.counts().get("generated") + s.counts().get("skipped"));
        assertTrue(s.counts().get("skipped") >= 1, "the retried task found the image its failed attempt stored: " + s.counts());

        Map<String, Row> results = new HashMap<>();
        for (Row r : spark.read().json(out.resolve("_results").toString()).collectAsList()) {
            assertNull(results.put(r.getAs("id") == null ? "line " + r.getAs("line") : r.getAs("id"), r), "one result per row");
        }
        assertEquals(6, results.size());
        assertTrue(((String) results.get("f").getAs("error")).contains("width must be a multiple of 16"));

        for (String[] r : rows) {
            Path single = dir.resolve(r[0] + "-generate.png");
            int code = Main.execute("generate", "--model", model(), "--prompt", r[1], "--seed", r[2], "--width", r[3], "--height", r[4],
                    "--steps", r[5], "--output", single.toString(), "--quiet");
            assertEquals(0, code);
            byte[] expected = Files.readAllBytes(single), actual = Files.readAllBytes(out.resolve(r[0] + ".png"));
            assertArrayEquals(expected, actual, r[0] + ": the Spark PNG differs from generate's");
            assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(expected)), results.get(r[0]).getAs("sha256"));
        }
        try (Stream<Path> files = Files.list(out)) {
            List<String> names = files.map(p -> p.getFileName().toString()).filter(n -> !n.equals("_results")).sorted().toList();
            assertEquals(List.of("a.png", "b.png", "c.png", "d.png", "e.png"), names, "no temporary or checksum files");
        }

        // A second run finds every image: none is made again.
        SparkBatch.Summary again = job(manifest, out).run(spark, RowHook.LOG);
        assertEquals(5L, again.counts().get("skipped"));
        assertEquals(0L, again.counts().get("generated"));
    }
}
