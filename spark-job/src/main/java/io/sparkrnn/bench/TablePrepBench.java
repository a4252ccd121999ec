package io.sparkrnn.bench;

import static org.apache.spark.sql.functions.col;

import io.sparkrnn.data.Manifest;
import io.sparkrnn.data.Split;
import io.sparkrnn.data.spark.ExampleTables;
import io.sparkrnn.data.spark.SequenceTables;
import io.sparkrnn.data.spark.TableSpec;
import io.sparkrnn.job.driver.SparkSetup;
import io.sparkrnn.job.report.TrainingMetrics;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * {@code bench --prep-table}: {@code prep table} against Spark's own sort of the same table
 * ({@code read → repartition(key) → sortWithinPartitions(key, order) → write.parquet}), both on
 * the same generated long-format Parquet table in one JVM, runs alternating, medians reported.
 * Peak heap is the JVM's (in local mode the driver and the executors share it).
 */
public final class TablePrepBench {
  private TablePrepBench() {}

  /** The windows' T of the timed prep (one stride apart: {@link #STRIDE}). */
  public static final int STEPS = 48;

  static final int STRIDE = 24;

  /** Hours a key needs for one window: T steps and the next-step target after them (K = 1). */
  public static final int MIN_HOURS = STEPS + 1;

  /**
   * @param rows rounded down to a multiple of {@code keys}: the table is keys × (rows / keys) hours,
   *     at least {@link #MIN_HOURS} a key (the command refuses fewer)
   */
  public static List<Map<String, Object>> run(long rows, int keys, int runs, String master, Path work, PrintStream out)
      throws IOException {
    if (keys < 1 || rows / keys < MIN_HOURS) {
      throw new IllegalArgumentException(rows + " rows over " + keys + " keys: under " + MIN_HOURS + " hours a key");
    }
    int hours = (int) (rows / keys);
    Files.createDirectories(work);
    SparkSession spark = SparkSetup.session("spark-rnn bench prep table", master);
    try {
      String table = work.resolve("table.parquet").toString();
      long t0 = System.nanoTime();
      ExampleTables.sensors(spark, keys, hours, 1).write().mode("overwrite").parquet(table);
      long n = (long) keys * hours;
      out.printf("prep table bench: %,d rows (%,d keys x %,d hours) written in %.1f s to %s; %s, max heap %d MB%n", n, keys,
          hours, (System.nanoTime() - t0) / 1e9, table, master, Runtime.getRuntime().maxMemory() >> 20);
      // by key, 10% of the keys (by hash) to validation; under 10 keys none, as a lone key hashed to
      // validation leaves nothing to train on (sensor-0 does, and prep refused the 1-key table)
      double validation = keys < 10 ? 0 : 0.1;
      TableSpec spec = new TableSpec(List.of("sensor"), "ts", List.of("temp", "load"), List.of(), 0, false, STEPS, STRIDE, -1, 0,
          null, null, validation, 0, true, TableSpec.Missing.ERROR, 64, 42, 0, Map.of("format", "parquet", "path", table));
      double[] spark_s = new double[runs];
      double[] ours_s = new double[runs];
      long[] oursHeap = new long[runs];
      long[] sparkHeap = new long[runs];
      Manifest manifest = null;
      Path sorted = work.resolve("spark-sorted.parquet");
      Path dataset = work.resolve("dataset");
      for (int r = 0; r < runs; r++) {
        // both write to a fresh directory: removing the last run's output is not timed for either
        deleteTree(sorted);
        deleteTree(dataset);
        resetPeaks();
        long a = System.nanoTime();
        spark.read().parquet(table).repartition(col("sensor")).sortWithinPartitions("sensor", "ts").write()
            .parquet(sorted.toString());
        spark_s[r] = (System.nanoTime() - a) / 1e9;
        sparkHeap[r] = peakHeapBytes();
        resetPeaks();
        long b = System.nanoTime();
        manifest = SequenceTables.prep(spark.read().parquet(table), spec, dataset.toString(), false);
        ours_s[r] = (System.nanoTime() - b) / 1e9;
        oursHeap[r] = peakHeapBytes();
        out.printf("  run %d: Spark sort+write %.1f s, prep table %.1f s (ratio %.2f), peak heap %d / %d MB%n", r + 1,
            spark_s[r], ours_s[r], spark_s[r] / ours_s[r], sparkHeap[r] >> 20, oursHeap[r] >> 20);
      }
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("kind", "prep_table");
      row.put("rows", n);
      row.put("keys", (long) keys);
      row.put("runs", (long) runs);
      row.put("master", master);
      row.put("spark_sort_write_s", TrainingMetrics.median(spark_s));
      row.put("prep_table_s", TrainingMetrics.median(ours_s));
      row.put("spark_rows_per_s", n / TrainingMetrics.median(spark_s));
      row.put("prep_rows_per_s", n / TrainingMetrics.median(ours_s));
      row.put("ratio", TrainingMetrics.median(spark_s) / TrainingMetrics.median(ours_s));
      row.put("peak_heap_mb_spark", (double) (Arrays.stream(sparkHeap).max().orElse(0) >> 20));
      row.put("peak_heap_mb_prep", (double) (Arrays.stream(oursHeap).max().orElse(0) >> 20));
      row.put("max_heap_mb", (double) (Runtime.getRuntime().maxMemory() >> 20));
      row.put("sequences", manifest.sequences(Split.TRAIN) + manifest.sequences(Split.VALIDATION));
      row.put("shards", (long) manifest.shards().size());
      out.println();
      out.println("| rows | keys | Spark sort+write s | prep table s | Spark rows/s | prep rows/s | ratio | peak heap MB (Spark / prep) |");
      out.println("|---|---|---|---|---|---|---|---|");
      out.printf("| %,d | %,d | %.1f | %.1f | %,.0f | %,.0f | %.2f | %.0f / %.0f |%n", n, keys, TrainingMetrics.median(spark_s), TrainingMetrics.median(ours_s),
          row.get("spark_rows_per_s"), row.get("prep_rows_per_s"), row.get("ratio"), row.get("peak_heap_mb_spark"),
          row.get("peak_heap_mb_prep"));
      List<Map<String, Object>> rowsOut = new ArrayList<>();
      rowsOut.add(row);
      return rowsOut;
    } finally {
      SparkSetup.stop(spark);
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (var walk = Files.walk(p)) {
      for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(q);
      }
    }
  }

  private static void resetPeaks() {
    System.gc();
    for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
      if (p.getType() == MemoryType.HEAP) {
        p.resetPeakUsage();
      }
    }
  }

  /** The sum of the heap pools' peaks since the last reset (an upper bound of the heap's peak). */
  private static long peakHeapBytes() {
    long sum = 0;
    for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
      if (p.getType() == MemoryType.HEAP) {
        sum += p.getPeakUsage().getUsed();
      }
    }
    return sum;
  }
}
