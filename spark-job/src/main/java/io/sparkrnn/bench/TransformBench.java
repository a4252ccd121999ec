package io.sparkrnn.bench;

import io.sparkrnn.data.spark.ExampleTables;
import io.sparkrnn.job.driver.SparkSetup;
import io.sparkrnn.job.report.TrainingMetrics;
import io.sparkrnn.kernel.generate.StatefulSession;
import io.sparkrnn.kernel.io.ModelFile;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.jvm.MathKernels;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.ml.RnnModel;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * {@code bench --transform}: {@link RnnModel#transform} throughput (rows/s, every row's
 * prediction computed and discarded by Spark's {@code noop} sink, the shuffle by key included)
 * against the engine's own forward pass over the same sequences in the same JVM, runs
 * alternating, medians reported:
 * <ul>
 *   <li><b>engine, batched</b>: one {@code forward} of all keys side by side (B = keys, T = hours,
 *       in chunks of 2048 steps, as transform's), the JVM engine on as many threads as the master has cores;
 *   <li><b>engine, per key</b>: each key alone (B = 1) on a single-threaded engine, one key after
 *       another on one thread: how transform's tasks stepped keys before they batched them (8 side
 *       by side, SeriesScorer), and how they still step a key longer than a batch's rows.
 * </ul>
 * Also timed: Spark's own {@code repartition(sensor).sortWithinPartitions(sensor, ts)} of the table
 * into the noop sink, the part of transform's time that is Spark's shuffle and sort; and transform
 * of the same table already clustered by key ({@code repartition(cores, sensor)
 * .sortWithinPartitions(sensor, ts)}, cached and counted before timing, as a bucketed table or a
 * user's own repartition leaves it), where Spark runs neither the shuffle nor the sort.
 * The model is a seeded random LSTM(2→H→2) without normalisation on the {@code sensors} example
 * table (cached and counted before timing); the inputs of the engine rows are the table's values,
 * collected once, untimed.
 */
public final class TransformBench {
  private TransformBench() {}

  /** Steps per engine call, as transform's chunks (SeriesScorer.CHUNK). */
  static final int CHUNK = 2048;

  public static List<Map<String, Object>> run(long rows, int keys, int hidden, int runs, String master, PrintStream out) {
    int hours = (int) Math.max(2, rows / keys);
    SparkSession spark = SparkSetup.session("spark-rnn bench transform", master);
    try {
      Dataset<Row> table = ExampleTables.sensors(spark, keys, hours, 1).cache();
      long n = table.count();
      int cores = spark.sparkContext().defaultParallelism();
      Dataset<Row> clustered = table.repartition(cores, table.col("sensor")).sortWithinPartitions("sensor", "ts").cache();
      clustered.count();
      ModelConfig config = new ModelConfig(CellType.LSTM, 1, 2, hidden, 2, Mode.SEQ2SEQ, LossType.MSE);
      Params params = Params.initialize(config, 1);
      RnnModel model = new RnnModel(ModelFile.toBytes(params, Map.of())).setKeyCols("sensor").setOrderCol("ts")
          .setInputCols("temp", "load");
      float[] x = inputs(table, keys, hours);            // [T][B][F], b = the key's rank, t = the hour
      out.printf("transform bench: %,d rows (%,d keys x %,d hours), LSTM(2->%d->2), %s (%d cores), max heap %d MB%n", n, keys,
          hours, hidden, master, cores, Runtime.getRuntime().maxMemory() >> 20);
      double[] transform = new double[runs];
      double[] batched = new double[runs];
      double[] perKey = new double[runs];
      double[] shuffle = new double[runs];
      double[] onClustered = new double[runs];
      for (int r = -1; r < runs; r++) {                  // r = -1: warm-up, untimed
        long a = System.nanoTime();
        model.transform(table).write().format("noop").mode("overwrite").save();
        double ts = (System.nanoTime() - a) / 1e9;
        long b = System.nanoTime();
        forwardBatched(params, x, keys, hours, cores);
        double bs = (System.nanoTime() - b) / 1e9;
        long c = System.nanoTime();
        forwardPerKey(params, x, keys, hours);
        double cs = (System.nanoTime() - c) / 1e9;
        long d = System.nanoTime();
        table.repartition(table.col("sensor")).sortWithinPartitions("sensor", "ts").write().format("noop").mode("overwrite").save();
        double ds = (System.nanoTime() - d) / 1e9;
        long e = System.nanoTime();
        model.transform(clustered).write().format("noop").mode("overwrite").save();
        double es = (System.nanoTime() - e) / 1e9;
        if (r >= 0) {
          shuffle[r] = ds;
          onClustered[r] = es;
          transform[r] = ts;
          batched[r] = bs;
          perKey[r] = cs;
          out.printf("  run %d: transform %.2f s (%,.0f rows/s), engine batched %.2f s (%,.0f rows/s), engine per key %.2f s"
              + " (%,.0f rows/s), Spark repartition + sort alone %.2f s, transform of the table clustered by key %.2f s"
              + " (%,.0f rows/s); transform / batched %.2f, clustered / batched %.2f%n", r + 1, ts, n / ts, bs, n / bs, cs, n / cs,
              ds, es, n / es, bs / ts, bs / es);
        }
      }
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("kind", "transform");
      row.put("rows", n);
      row.put("keys", (long) keys);
      row.put("hidden", (long) hidden);
      row.put("runs", (long) runs);
      row.put("master", master);
      row.put("transform_rows_per_s", n / TrainingMetrics.median(transform));
      row.put("engine_batched_rows_per_s", n / TrainingMetrics.median(batched));
      row.put("engine_per_key_rows_per_s", n / TrainingMetrics.median(perKey));
      row.put("spark_shuffle_sort_s", TrainingMetrics.median(shuffle));
      row.put("transform_s", TrainingMetrics.median(transform));
      row.put("ratio", TrainingMetrics.median(batched) / TrainingMetrics.median(transform));
      row.put("ratio_per_key", TrainingMetrics.median(perKey) / TrainingMetrics.median(transform));
      row.put("transform_clustered_rows_per_s", n / TrainingMetrics.median(onClustered));
      row.put("ratio_clustered", TrainingMetrics.median(batched) / TrainingMetrics.median(onClustered));
      out.println();
      out.println("| rows | keys | H | transform rows/s | engine batched rows/s | engine per key (1 thread) rows/s |"
          + " transform / batched | transform / per key | transform s | of which Spark's repartition + sort alone s |"
          + " transform of the table clustered by key rows/s | clustered / batched |");
      out.println("|---|---|---|---|---|---|---|---|---|---|---|---|");
      out.printf("| %,d | %,d | %d | %,.0f | %,.0f | %,.0f | %.2f | %.2f | %.2f | %.2f | %,.0f | %.2f |%n", n, keys, hidden,
          row.get("transform_rows_per_s"), row.get("engine_batched_rows_per_s"), row.get("engine_per_key_rows_per_s"),
          row.get("ratio"), row.get("ratio_per_key"), TrainingMetrics.median(transform), TrainingMetrics.median(shuffle),
          row.get("transform_clustered_rows_per_s"), row.get("ratio_clustered"));
      List<Map<String, Object>> result = new ArrayList<>();
      result.add(row);
      return result;
    } finally {
      SparkSetup.stop(spark);
    }
  }

  /** The table's temp and load as [T][B][F]: b the key's rank among the sorted keys, t the row's rank in its key. */
  private static float[] inputs(Dataset<Row> table, int keys, int hours) {
    List<Row> all = new ArrayList<>(table.select("sensor", "ts", "temp", "load").orderBy("sensor", "ts").collectAsList());
    float[] x = new float[hours * keys * 2];
    for (int i = 0; i < all.size(); i++) {
      int b = i / hours;
      int t = i % hours;
      x[(t * keys + b) * 2] = (float) all.get(i).getDouble(2);
      x[(t * keys + b) * 2 + 1] = (float) all.get(i).getDouble(3);
    }
    return x;
  }

  /** All keys side by side, B = keys, on a {@code threads}-thread engine. */
  private static void forwardBatched(Params params, float[] x, int keys, int hours, int threads) {
    try (JvmEngine engine = new JvmEngine(MathKernels.best(), threads)) {
      StatefulSession session = new StatefulSession(params, engine, keys);
      for (int t0 = 0; t0 < hours; t0 += CHUNK) {
        int steps = Math.min(CHUNK, hours - t0);
        session.run(Arrays.copyOfRange(x, t0 * keys * 2, (t0 + steps) * keys * 2), steps);
      }
    }
  }

  /** Each key alone (B = 1) on one single-threaded engine, one after another. */
  private static void forwardPerKey(Params params, float[] x, int keys, int hours) {
    try (JvmEngine engine = new JvmEngine(MathKernels.best(), 1)) {
      StatefulSession session = new StatefulSession(params, engine, 1);
      float[] one = new float[CHUNK * 2];
      for (int b = 0; b < keys; b++) {
        session.reset();
        for (int t0 = 0; t0 < hours; t0 += CHUNK) {
          int steps = Math.min(CHUNK, hours - t0);
          for (int t = 0; t < steps; t++) {
            one[t * 2] = x[((t0 + t) * keys + b) * 2];
            one[t * 2 + 1] = x[((t0 + t) * keys + b) * 2 + 1];
          }
          session.run(Arrays.copyOf(one, steps * 2), steps);
        }
      }
    }
  }
}
