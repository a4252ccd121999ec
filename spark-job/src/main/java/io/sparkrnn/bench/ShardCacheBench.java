package io.sparkrnn.bench;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.Split;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.fs.MemoryBudget;
import io.sparkrnn.job.driver.SparkSetup;
import io.sparkrnn.job.driver.Trainer;
import io.sparkrnn.job.executor.ExecutorRuntime;
import io.sparkrnn.job.executor.ShardCache;
import io.sparkrnn.job.report.TrainingMetrics;
import io.sparkrnn.kernel.model.CellType;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * {@code bench --shard-cache}: training on a dataset R times larger than the executors' shard
 * caches (R = {@code --cache-ratio}, default 4) against the same training fully cached, on one
 * local master, in pairs whose order alternates; the median over pairs of the ratio of their
 * throughputs is what the cache and its prefetch cost.
 *
 * <p>The dataset is generated sine data in small shards ({@code --cache-shard-batch} sequences
 * each), so a step's batch is spread over many shards and most of what a step reads from a shard
 * it does not use: the hard case for a cache. The fully cached run starts with every shard in the
 * cache ({@link ExecutorRuntime#preload}); the bounded one starts empty. Both are timed after the
 * same warm-up steps. The shard files stay in the operating system's page cache on one machine, so
 * a "read" here costs the CRC32C, the decode and a copy, not a disk: a slower store makes prefetch
 * matter more.
 */
public final class ShardCacheBench {
  private ShardCacheBench() {}

  public record Options(CellType cell, int hidden, int batch, int steps, int sequences, int shardBatch, double ratio, int runs,
      int trainSteps, int warmup, String master, long seed) {}

  public static List<Map<String, Object>> run(Options o, Path work, PrintStream out) throws IOException {
    Configuration hadoop = new Configuration();
    Path data = work.resolve("sine");
    Prep.run(new SineSource(SineSource.Options.defaults(o.steps(), o.sequences(), o.seed())), new PrepOptions(data.toUri(),
        o.shardBatch(), 0, false, true), hadoop);
    Dataset ds = Dataset.open(data.toUri(), hadoop); // for its manifest: the runs open their own
    long fileBytes = ds.manifest().shards(Split.TRAIN).stream().mapToLong(ShardInfo::bytes).sum();
    int shards = ds.manifest().shards(Split.TRAIN).size();
    // decoded bytes of the training shards (what the cache counts): x and y, T·B·(F + O) floats each
    long decoded = 4L * o.steps() * o.sequences() * (ds.manifest().spec().features() + ds.manifest().spec().outputs());
    long small = (long) (decoded / o.ratio());
    long full = 2 * decoded;
    out.printf("shard cache bench, %s, %s: %s H=%d B=%d T=%d; %,d sequences in %d shards of %d (%s of files, %s"
        + " decoded); bounded cache %s (1/%.3g of the data) against %s; %d runs of %d steps (%d warm-up)%n",
        ZonedDateTime.now().withNano(0), o.master(), o.cell().id(), o.hidden(), o.batch(), o.steps(), o.sequences(), shards,
        o.shardBatch(), MemoryBudget.size(fileBytes), MemoryBudget.size(decoded), MemoryBudget.size(small), o.ratio(),
        MemoryBudget.size(full), o.runs(), o.trainSteps(), o.warmup());
    double[] bounded = new double[o.runs()];
    double[] cached = new double[o.runs()];
    double[] ratios = new double[o.runs()];
    // the same from each run's median step (robust to another process's burst), as a second view
    double[] boundedMedianMs = new double[o.runs()];
    double[] cachedMedianMs = new double[o.runs()];
    double[] medianRatios = new double[o.runs()];
    // mean step time outside the slowest partition's compute (which includes its gather from the cache): [bounded, cached][run]
    double[][] overheadMs = new double[2][o.runs()];
    ShardCache.Stats boundedStats = null;
    try (JavaSparkContext sc = SparkSetup.start("spark-rnn bench shard cache", o.master())) {
      for (int r = 0; r < o.runs(); r++) {
        ShardCache.Stats cs = null;
        // which goes first alternates: the JIT, the GC and the machine's other load drift between the two
        for (boolean boundedTurn : r % 2 == 0 ? new boolean[] {true, false} : new boolean[] {false, true}) {
          ExecutorRuntime.clearShards();
          if (boundedTurn) {
            Trainer t = trainer(o, data, work.resolve("out-bounded"), Long.toString(small), hadoop);
            t.run(sc);
            bounded[r] = o.batch() / (t.metrics().meanStepMs(o.warmup()) / 1e3);
            boundedMedianMs[r] = t.metrics().medianStepMs(o.warmup());
            overheadMs[0][r] = t.metrics().meanOverheadMs(o.warmup());
            boundedStats = single(t.shardCacheStats());
          } else {
            Trainer c = trainer(o, data, work.resolve("out-cached"), Long.toString(full), hadoop);
            ExecutorRuntime.preload(c.dataset(), new ShardCache.Size(full, 0));
            c.run(sc);
            cached[r] = o.batch() / (c.metrics().meanStepMs(o.warmup()) / 1e3);
            cachedMedianMs[r] = c.metrics().medianStepMs(o.warmup());
            overheadMs[1][r] = c.metrics().meanOverheadMs(o.warmup());
            cs = single(c.shardCacheStats());
          }
        }
        ratios[r] = bounded[r] / cached[r];
        medianRatios[r] = cachedMedianMs[r] / boundedMedianMs[r];
        out.printf("  run %d: bounded %,.0f seq/s, median step %.2f ms, %.2f ms outside the compute (%s); fully cached %,.0f seq/s,"
            + " median step %.2f ms, %.2f ms outside the compute (%s); ratio %.3f (of median steps %.3f)%n", r + 1, bounded[r],
            boundedMedianMs[r], overheadMs[0][r], boundedStats.describe(), cached[r], cachedMedianMs[r], overheadMs[1][r],
            cs.describe(), ratios[r], medianRatios[r]);
      }
    } finally {
      ExecutorRuntime.clearShards();
    }
    double b = TrainingMetrics.median(bounded);
    double c = TrainingMetrics.median(cached);
    long asks = boundedStats.hits() + boundedStats.waits() + boundedStats.misses();
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("kind", "shard_cache");
    row.put("master", o.master());
    row.put("cell", o.cell().id());
    row.put("hidden_size", o.hidden());
    row.put("batch", o.batch());
    row.put("steps", o.steps());
    row.put("sequences", o.sequences());
    row.put("shards", shards);
    row.put("shard_batch", o.shardBatch());
    row.put("data_mb", decoded / 1e6);
    row.put("cache_mb", small / 1e6);
    row.put("cache_ratio", o.ratio());
    row.put("runs", o.runs());
    row.put("train_steps", o.trainSteps());
    row.put("warmup_steps", o.warmup());
    row.put("bounded_seq_per_s", b);
    row.put("cached_seq_per_s", c);
    row.put("ratio", TrainingMetrics.median(ratios));
    row.put("ratio_of_medians", b / c);
    row.put("ratio_min", Arrays.stream(ratios).min().orElse(Double.NaN));
    row.put("ratio_max", Arrays.stream(ratios).max().orElse(Double.NaN));
    row.put("median_step_ratio", TrainingMetrics.median(medianRatios));
    row.put("bounded_from_memory", asks == 0 ? null : (double) (boundedStats.hits() + boundedStats.waits()) / asks);
    row.put("bounded_mb_read_per_step", boundedStats.bytesRead() / 1e6 / o.trainSteps());
    out.println();
    out.println("| data / cache | bounded seq/s | fully cached seq/s | ratio (median of runs) | range | ratio of median steps |"
        + " asks from memory (bounded) | MB read per step (bounded) |");
    out.println("|---|---|---|---|---|---|---|---|");
    out.printf(Locale.ROOT, "| %.3g | %,.0f | %,.0f | %.3f | %.2f–%.2f | %.3f | %.0f%% | %.2f |%n", o.ratio(), b, c,
        TrainingMetrics.median(ratios), (Double) row.get("ratio_min"), (Double) row.get("ratio_max"), TrainingMetrics.median(medianRatios),
        100 * (Double) row.get("bounded_from_memory"), (Double) row.get("bounded_mb_read_per_step"));
    List<Map<String, Object>> rows = new ArrayList<>();
    rows.add(row);
    return rows;
  }

  private static Trainer trainer(Options o, Path data, Path out, String cache, Configuration hadoop) throws IOException {
    Map<String, String> given = new LinkedHashMap<>();
    given.put("data", data.toUri().toString());
    given.put("out", out.toUri().toString());
    given.put("overwrite", "true");
    given.put("cell", o.cell().id());
    given.put("hidden-size", Integer.toString(o.hidden()));
    given.put("batch", Integer.toString(o.batch()));
    given.put("steps", Integer.toString(o.trainSteps()));
    given.put("checkpoint-every", "0");
    given.put("log-every", "1");
    given.put("master", o.master());
    given.put("seed", Long.toString(o.seed()));
    given.put("shard-cache", cache);
    PrintStream quiet = new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8);
    Trainer t = Trainer.prepare(given, hadoop, quiet);
    t.clearPreviousRun();
    return t;
  }

  /** The one executor's counters (a local master has one). */
  private static ShardCache.Stats single(Map<String, ShardCache.Stats> byExecutor) {
    if (byExecutor.size() != 1) {
      throw new IllegalStateException("bench --shard-cache runs on a local master (one executor), found " + byExecutor.keySet());
    }
    return byExecutor.values().iterator().next();
  }
}
