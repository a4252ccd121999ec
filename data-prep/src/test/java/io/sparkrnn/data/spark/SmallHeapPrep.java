package io.sparkrnn.data.spark;

import io.sparkrnn.data.Manifest;
import io.sparkrnn.data.Split;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * Run in a child JVM with a small heap by {@code PrepTableUnderSmallHeapTest}: writes a table of
 * args[1] rows with Spark, then preps it; prints {@code sequences N} and exits 0 on success.
 */
public final class SmallHeapPrep {
  private SmallHeapPrep() {}

  public static void main(String[] args) throws Exception {
    String dir = args[0];
    long rows = Long.parseLong(args[1]);
    int keys = 2000;
    SparkSession spark = SparkSession.builder().master("local[2]").appName("small-heap-prep")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "8")
        .config("spark.local.dir", dir + "/spark-local").getOrCreate();
    try {
      String table = dir + "/table.parquet";
      ExampleTables.sensors(spark, keys, (int) (rows / keys), 3).write().parquet(table);
      TableSpec spec = new TableSpec(List.of("sensor"), "ts", List.of("temp", "load"), List.of(), 0, false, 48, 24, -1,
          0, null, null, 0.1, 0, true, TableSpec.Missing.ERROR, 64, 1, 0, Map.of());
      Manifest m = SequenceTables.prep(spark.read().parquet(table), spec, dir + "/dataset");
      System.out.println("sequences " + (m.sequences(Split.TRAIN) + m.sequences(Split.VALIDATION)));
      System.out.println("max heap MB " + (Runtime.getRuntime().maxMemory() >> 20));
    } finally {
      spark.stop();
    }
  }
}
