package io.sparkrnn.ml;

import org.apache.spark.sql.SparkSession;

/**
 * Run in a child JVM by {@code RnnEstimatorTest}: loads a saved RnnModel, transforms a Parquet
 * table and writes (sensor, ts, prediction) as Parquet. Arguments: model dir, table, output.
 */
public final class FreshJvmTransform {
  private FreshJvmTransform() {}

  public static void main(String[] args) {
    SparkSession spark = SparkSession.builder().master("local[1]").appName("fresh-jvm-transform")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").getOrCreate();
    try {
      RnnModel model = RnnModel.load(args[0]);
      model.transform(spark.read().parquet(args[1])).select("sensor", "ts", model.getPredictionCol()).write()
          .parquet(args[2]);
    } finally {
      spark.stop();
    }
  }
}
