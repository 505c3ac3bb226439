package fluxj.spark;

import fluxj.batch.BatchRunner;
import fluxj.batch.Inputs;
import fluxj.batch.Manifest;
import fluxj.batch.RowResult;
import fluxj.image.ImageFiles;
import fluxj.io.Json;
import fluxj.lora.LoraMode;
import fluxj.memory.WeightDtype;
import fluxj.pipeline.ProgressListener;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * What each Spark task runs: its rows (JSON of {@code index}, {@code line} and the row's checked fields) to images
 * in the output folder, with the executor's one pipeline; one result row each.
 *
 * @param hadoop the driver's Hadoop settings (file system credentials and endpoints), for the executors
 */
record RowTask(ModelSpec model, String outputDir, Map<String, String> hadoop, long memoryBudget, WeightDtype weightDtype,
               LoraMode loraMode, String loraDir, RowHook hook) implements FlatMapFunction<Iterator<String>, Row>, Serializable {
    @Override
    public Iterator<Row> call(Iterator<String> rows) throws Exception {
        Configuration conf = new Configuration(false);
        hadoop.forEach(conf::set);
        List<Row> out = new ArrayList<>();
        try (HadoopStore store = new HadoopStore(new Path(outputDir), conf)) {
            BatchRunner runner = new BatchRunner(() -> ExecutorPipeline.get(model), store,
                    r -> r.toBuilder().memoryBudget(memoryBudget).weightDtype(weightDtype).loraMode(loraMode).build(),
                    new Inputs(null, maxInputPixels(), loraDir == null ? null : java.nio.file.Path.of(loraDir)));
            while (rows.hasNext()) {
                @SuppressWarnings("unchecked")
                Map<String, Object> m = (Map<String, Object>) Json.parse(rows.next());
                @SuppressWarnings("unchecked")
                Manifest.Entry e = Manifest.entry(((Number) m.get("index")).intValue(), ((Number) m.get("line")).intValue(), (Map<String, Object>) m.get("fields"));
                if (e instanceof Manifest.Row row) hook.before(row);
                ExecutorPipeline.LOCK.lock();
                try {
                    out.add(row(runner.run(e, ProgressListener.NONE)));
                } finally {
                    ExecutorPipeline.LOCK.unlock();
                }
            }
        }
        return out.iterator();
    }

    /** Input images are read onto the heap; each pixel costs about 32 bytes until encoded (as generate counts it). */
    private static long maxInputPixels() {
        return Math.min(ImageFiles.MAX_PIXELS, Runtime.getRuntime().maxMemory() / 32);
    }

    static Row row(RowResult r) {
        return RowFactory.create(r.id(), r.line(), r.status().label(), r.file(), r.seed(), r.seconds(), r.sha256(), r.error());
    }
}
