package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.Split;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of 4fe5f2f..6d7e62d (fe393587, 6d7e62da): prep table reads a string --order column of a
 * Parquet table as times.
 */
class StringTimeReviewTest {
  @TempDir Path tmp;

  private static SparkSession spark(boolean caseSensitive) {
    return SparkSession.builder().master("local[1]").appName("StringTimeReviewTest")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.sql.caseSensitive", String.valueOf(caseSensitive)).getOrCreate();
  }

  /**
   * Under spark.sql.caseSensitive=true, --order TS names the timestamp column TS; a string column ts
   * (a label) beside it is another column. timeFromText matches --order ignoring case, takes ts (the
   * first string column of that name ignoring case) and refuses the run for its values, though the
   * column asked is a timestamp (SequenceTables resolves names with case there).
   */
  @Test
  void underCaseSensitiveNamesAStringColumnDifferingOnlyInCaseIsNotTheOrderColumn() throws Exception {
    Path table = tmp.resolve("cased.parquet");
    SparkSession spark = spark(true);
    try {
      spark.sql("SELECT 'k' AS k, CAST(TIMESTAMP'2024-01-05 00:00:00' + make_interval(0, 0, 0, 0, CAST(5 - id AS INT)) AS"
          + " TIMESTAMP) AS TS, CASE WHEN id % 2 = 0 THEN 'morning' ELSE 'evening' END AS ts, CAST(5 - id AS DOUBLE) AS x"
          + " FROM range(0, 6)").coalesce(1).write().parquet(table.toString());
    } finally {
      spark.stop();
    }
    String was = System.getProperty("spark.sql.caseSensitive");
    System.setProperty("spark.sql.caseSensitive", "true");
    InferenceCommandsTest.Run r;
    try {
      r = InferenceCommandsTest.run("prep", "table", table.toString(), "--key", "k", "--order", "TS", "--inputs", "x",
          "--steps", "5", "--horizon", "1", "--batch", "1", "--validation-fraction", "0", "--master", "local[1]", "--out",
          tmp.resolve("out").toString());
    } finally {
      if (was == null) {
        System.clearProperty("spark.sql.caseSensitive");
      } else {
        System.setProperty("spark.sql.caseSensitive", was);
      }
    }
    assertEquals(0, r.code(), "--order TS is a timestamp column; the string column ts is not asked for: " + r.err());
    Dataset d = Dataset.open(tmp.resolve("out").toUri(), new Configuration());
    assertArrayEquals(new float[] {0, 1, 2, 3, 4}, d.read(d.manifest().shards().get(0)).x(), "in TS order");
  }

  /**
   * docs/data-format.md: --where filters first, and "a timestamp literal such as --where \"ts >=
   * '2024-01-02'\" is read in spark.sql.session.timeZone ... give the zone ('2024-01-02 00:00:00Z')";
   * a string --order column is "read as times". But the cast comes after --where, so --where
   * compares the strings: '2024-01-05T08:00:00Z' >= '2024-01-05 10:00:00Z' is true ('T' sorts after
   * ' '), and every row is kept.
   */
  @Test
  void whereOnAStringOrderColumnComparesTimesNotStrings() throws Exception {
    Path table = tmp.resolve("iso.parquet");
    SparkSession spark = spark(false);
    try {
      // hours 08..11 Z, x = the hour - 8
      spark.sql("SELECT 'k' AS k, concat('2024-01-05T', lpad(CAST(8 + id AS STRING), 2, '0'), ':00:00Z') AS ts,"
          + " CAST(id AS DOUBLE) AS x FROM range(0, 4)").coalesce(1).write().parquet(table.toString());
    } finally {
      spark.stop();
    }
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", table.toString(), "--key", "k", "--order", "ts",
        "--where", "ts >= '2024-01-05 10:00:00Z'", "--inputs", "x", "--steps", "1", "--horizon", "1", "--batch", "1",
        "--validation-fraction", "0", "--master", "local[1]", "--out", tmp.resolve("where-out").toString());
    assertEquals(0, r.code(), r.err());
    Dataset d = Dataset.open(tmp.resolve("where-out").toUri(), new Configuration());
    // 10:00 and 11:00 kept: one window of 1 step + horizon 1
    assertEquals(1, d.manifest().sequences(Split.TRAIN),
        "--where ts >= '2024-01-05 10:00:00Z' should keep 2 rows (10:00Z, 11:00Z), one window; " + r.out());
  }

  /**
   * A time without its date in a column whose values carry offsets cast to TIMESTAMP as today's
   * (the shards would depend on the day prep ran); it is refused. An offset after an unpadded time
   * ("9:0:0+02:00", which Spark's cast reads) makes the column instants as a padded one does.
   */
  @Test
  void aTimeWithoutItsDateIsRefusedAndAnUnpaddedTimesOffsetIsKept() throws Exception {
    Path timeOnly = tmp.resolve("time-only.parquet");
    Path unpadded = tmp.resolve("unpadded.parquet");
    SparkSession spark = spark(false);
    try {
      spark.sql("SELECT 'k' AS k, ts, x FROM VALUES ('2024-01-05T10:00:00Z', 0D), ('10:30:00', 1D),"
          + " ('2024-01-05T11:00:00Z', 2D) AS v(ts, x)").coalesce(1).write().parquet(timeOnly.toString());
      // 9:0:0+02:00 is 07:00Z, before 8:0:0Z; as wall-clock times (the offset dropped) it would come after
      spark.sql("SELECT 'k' AS k, ts, x FROM VALUES ('2024-01-05 9:0:0+02:00', 0D), ('2024-01-05 8:0:0Z', 1D) AS v(ts, x)")
          .coalesce(1).write().parquet(unpadded.toString());
    } finally {
      spark.stop();
    }
    InferenceCommandsTest.Run refused = InferenceCommandsTest.run("prep", "table", timeOnly.toString(), "--key", "k", "--order",
        "ts", "--inputs", "x", "--steps", "2", "--horizon", "1", "--batch", "1", "--validation-fraction", "0", "--master",
        "local[1]", "--out", tmp.resolve("time-only-out").toString());
    assertEquals(2, refused.code(), refused.err());
    assertTrue(refused.err().contains("it holds '10:30:00', which is neither"), refused.err());
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", unpadded.toString(), "--key", "k", "--order", "ts",
        "--inputs", "x", "--steps", "2", "--horizon", "0", "--batch", "1", "--validation-fraction", "0", "--master", "local[1]",
        "--out", tmp.resolve("unpadded-out").toString());
    assertEquals(0, r.code(), r.err());
    Dataset d = Dataset.open(tmp.resolve("unpadded-out").toUri(), new Configuration());
    assertArrayEquals(new float[] {0, 1}, d.read(d.manifest().shards().get(0)).x(), "in instant order");
  }
}
