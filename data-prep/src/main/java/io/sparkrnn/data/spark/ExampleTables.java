package io.sparkrnn.data.spark;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.format_string;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.pmod;
import static org.apache.spark.sql.functions.sin;
import static org.apache.spark.sql.functions.timestamp_seconds;
import static org.apache.spark.sql.functions.xxhash64;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Example tables in long format, made by Spark itself (distributed, deterministic for a seed), for
 * the README's table example, tests and the {@code prep table} benchmark.
 */
public final class ExampleTables {
  private ExampleTables() {}

  /** 2024-01-01T00:00:00Z, the first reading. */
  static final long EPOCH_SECONDS = 1_704_067_200L;

  /**
   * Hourly readings of {@code sensors} sensors over {@code hours} hours: columns {@code sensor}
   * (string {@code sensor-00042}), {@code ts} (timestamp), {@code temp} and {@code load} (double).
   * Per sensor k, with u_i(k) uniform in [0, 1) from a seeded hash and noise uniform in [−½, ½):
   * temp = 15 + 10u₃ + (3 + 5u₁)·sin(2π·h/24 + 2πu₂) + 0.5·noise;
   * load = 0.5 + 0.3·sin(2π·h/168 + 2πu₄) + 0.02·(temp − 15 − 10u₃) + 0.05·noise'.
   * A daily and a weekly cycle per sensor: an RNN that has seen 48 hours can forecast the next.
   */
  public static Dataset<Row> sensors(SparkSession spark, int sensors, int hours, long seed) {
    Column id = col("id");
    Column k = id.divide(hours).cast("long");
    Column h = pmod(id, lit((long) hours));
    Column u1 = uniform(seed, 1, k);
    Column u2 = uniform(seed, 2, k);
    Column u3 = uniform(seed, 3, k);
    Column u4 = uniform(seed, 4, k);
    Column twoPi = lit(2 * Math.PI);
    Column base = lit(15).plus(lit(10).multiply(u3));
    Column temp = base.plus(lit(3).plus(lit(5).multiply(u1))
        .multiply(sin(twoPi.multiply(h).divide(24).plus(twoPi.multiply(u2)))))
        .plus(lit(0.5).multiply(uniform(seed, 5, id).minus(0.5)));
    Column load = lit(0.5).plus(lit(0.3).multiply(sin(twoPi.multiply(h).divide(168).plus(twoPi.multiply(u4)))))
        .plus(lit(0.02).multiply(temp.minus(base))).plus(lit(0.05).multiply(uniform(seed, 6, id).minus(0.5)));
    return spark.range((long) sensors * hours)
        .select(format_string("sensor-%05d", k).as("sensor"),
            timestamp_seconds(lit(EPOCH_SECONDS).plus(h.multiply(3600))).as("ts"),
            temp.as("temp"), load.as("load"));
  }

  /** Uniform in [0, 1) from xxhash64(seed, salt, v): 2^24 levels. */
  private static Column uniform(long seed, int salt, Column v) {
    return pmod(xxhash64(lit(seed), lit(salt), v), lit(1L << 24)).divide(lit((double) (1L << 24)));
  }
}
