package fluxj.spark;

import fluxj.batch.Manifest;
import fluxj.batch.RowResult;
import fluxj.io.Json;
import fluxj.lora.LoraMode;
import fluxj.memory.ByteSize;
import fluxj.memory.WeightDtype;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code spark-submit --class fluxj.spark.SparkBatch fluxj-spark.jar --manifest PATH --output-dir PATH ...}: the
 * rows of a manifest on any Hadoop file system spread over the executors, each executor loading the model once,
 * each image written as {@code ID.png} (the PNG {@code fluxj generate} writes for the row), rows already done
 * skipped, and a results table (JSON) written to {@code OUTPUT/_results}.
 */
@Command(name = "fluxj-spark", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
        description = {"Generate one image per manifest row on a Spark cluster (the manifest format of fluxj batch).",
                "Exit codes: 0 every row done, 1 some rows failed or were refused (see the results table), 2 bad arguments or an unreadable manifest."})
public final class SparkBatch implements Callable<Integer> {
    static final StructType RESULTS = new StructType()
            .add("id", DataTypes.StringType).add("line", DataTypes.IntegerType).add("status", DataTypes.StringType)
            .add("file", DataTypes.StringType).add("seed", DataTypes.LongType).add("seconds", DataTypes.DoubleType)
            .add("sha256", DataTypes.StringType).add("error", DataTypes.StringType);

    @Option(names = "--manifest", required = true, paramLabel = "PATH", description = "The manifest (.jsonl or .csv) on any Hadoop file system: hdfs://, s3a://, file:// ...")
    String manifest;
    @Option(names = "--output-dir", required = true, paramLabel = "PATH", description = "Where the images go, as ID.png, on any Hadoop file system.")
    String outputDir;
    @Option(names = "--results", paramLabel = "PATH", description = "Where the results table goes (JSON part files; default OUTPUT/_results), replaced by each run.")
    String results;
    @Option(names = "--partitions", paramLabel = "N", description = "How many tasks to split the rows into (default: the cluster's default parallelism).")
    Integer partitions;
    @Option(names = "--model", paramLabel = "DIR|FILE|REPO_ID", description = "The model, at the same local path on every node (or a repo id in each node's Hugging Face cache).")
    String model;
    @Option(names = "--vae", paramLabel = "FILE") String vae;
    @Option(names = "--clip-l", paramLabel = "FILE") String clipL;
    @Option(names = "--t5", paramLabel = "FILE") String t5;
    @Option(names = "--clip-tokenizer", paramLabel = "DIR") String clipTokenizer;
    @Option(names = "--t5-tokenizer", paramLabel = "DIR|FILE") String t5Tokenizer;
    @Option(names = "--config", paramLabel = "FILE") String config;
    @Option(names = "--memory-budget", paramLabel = "SIZE", description = "Memory the engine may use on each executor, e.g. 16G.")
    String memoryBudget;
    @Option(names = "--weight-dtype", paramLabel = "stored|fp8") String weightDtype;
    @Option(names = "--lora-dir", paramLabel = "DIR", description = "Where <lora:NAME:WEIGHT> prompt tags find NAME.safetensors, at the same path on every node.")
    String loraDir;
    @Option(names = "--lora-mode", paramLabel = "auto|merge|low-rank") String loraMode;

    /** Counts of the run, by status. */
    public record Summary(Map<String, Long> counts) {
        public boolean ok() {
            return counts.getOrDefault("failed", 0L) + counts.getOrDefault("invalid", 0L) == 0;
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new SparkBatch()).execute(args));
    }

    @Override
    public Integer call() {
        try {
            budget();
            dtype();
            mode();
        } catch (IllegalArgumentException e) {
            System.err.println("fluxj: " + e.getMessage());
            return 2;
        }
        SparkSession spark = SparkSession.builder().appName("fluxj batch").getOrCreate();
        try {
            Summary s = run(spark, RowHook.LOG);
            System.err.println("fluxj: " + s.counts());
            return s.ok() ? 0 : 1;
        } catch (Manifest.ManifestException e) {
            System.err.println("fluxj: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            System.err.println("fluxj: " + e);
            return 1;
        } finally {
            spark.stop();
        }
    }

    private long budget() {
        return memoryBudget == null ? 0 : ByteSize.parse(memoryBudget);
    }

    private WeightDtype dtype() {
        return weightDtype == null ? null : WeightDtype.parse(weightDtype);
    }

    private LoraMode mode() {
        return loraMode == null ? LoraMode.AUTO : LoraMode.parse(loraMode);
    }

    /** The job on {@code spark}; {@code hook} runs before each row on the executors. */
    public Summary run(SparkSession spark, RowHook hook) throws IOException {
        long budget = budget();
        WeightDtype dtype = dtype();
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Manifest m = Manifest.parse(manifest, read(new Path(manifest), conf));
        Path out = new Path(outputDir);
        out.getFileSystem(conf).mkdirs(out);

        List<Row> done = new ArrayList<>();
        List<String> work = new ArrayList<>();
        for (Manifest.Entry e : m.entries()) {
            switch (e) {
                case Manifest.Invalid bad -> done.add(RowTask.row(new RowResult(bad.id(), bad.line(), RowResult.Status.INVALID, null, null, null, null, bad.error())));
                case Manifest.Row row -> {
                    Map<String, Object> shipped = new LinkedHashMap<>();
                    shipped.put("index", row.index());
                    shipped.put("line", row.line());
                    shipped.put("fields", row.fields());
                    work.add(Json.write(shipped));
                }
            }
        }
        if (!work.isEmpty()) {
            Map<String, String> hadoop = new HashMap<>();
            conf.forEach(en -> hadoop.put(en.getKey(), en.getValue()));
            RowTask task = new RowTask(new ModelSpec(model, vae, clipL, t5, clipTokenizer, t5Tokenizer, config),
                    out.toString(), hadoop, budget, dtype, mode(), loraDir, hook);
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            int slices = Math.max(1, Math.min(work.size(), partitions != null ? partitions : jsc.defaultParallelism()));
            // Collected before anything else uses them: a second action on the RDD would run the rows again.
            done.addAll(jsc.parallelize(work, slices).mapPartitions(task).collect());
        }
        spark.createDataFrame(done, RESULTS).coalesce(1).write().mode(SaveMode.Overwrite)
                .json(results != null ? results : new Path(out, "_results").toString());
        Map<String, Long> counts = new LinkedHashMap<>();
        for (RowResult.Status s : RowResult.Status.values()) counts.put(s.label(), 0L);
        for (Row r : done) counts.merge(r.getString(2), 1L, Long::sum);
        return new Summary(counts);
    }

    private static String read(Path p, Configuration conf) throws IOException {
        try (FSDataInputStream in = p.getFileSystem(conf).open(p)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
