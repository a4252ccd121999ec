package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.kernel.model.Batch;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A user audit (userTab): a Parquet table whose day column is a string "2024-01-05", and a boolean
 * flag column, as warehouses export them. prep table refused them with the library's words ("cast it
 * first, e.g. to_timestamp"; "column 'flag' is boolean"), advice the command line cannot follow: it
 * has no way to cast a column. It now reads ISO 8601 strings in --order as times and a boolean
 * value column as 0 and 1; a string that is no ISO time is refused naming the file and the value.
 */
class StringTimeOnCommandLineTest {
  @TempDir Path tmp;

  @Test
  void aParquetStringDateColumnIsReadAsDatesAndABooleanAsZeroAndOne() throws Exception {
    Path table = tmp.resolve("daily.parquet");
    Path bad = tmp.resolve("bad.parquet");
    Path zoned = tmp.resolve("zoned.parquet");
    SparkSession spark = SparkSession.builder().master("local[1]").appName("StringTimeOnCommandLineTest")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").getOrCreate();
    try {
      // one key, 12 days written in reverse order; x the day's number, flag true on even days
      spark.sql("SELECT 'k' AS k, date_format(date_add(DATE'2024-01-01', CAST(11 - id AS INT)), 'yyyy-MM-dd') AS ds,"
          + " CAST(11 - id AS DOUBLE) AS x, (11 - id) % 2 = 0 AS flag FROM range(0, 12)").coalesce(1).write().parquet(table.toString());
      spark.sql("SELECT 'k' AS k, CASE WHEN id = 5 THEN '05/01/2024' ELSE date_format(date_add(DATE'2024-01-01', CAST(id AS INT)),"
          + " 'yyyy-MM-dd') END AS ds, CAST(id AS DOUBLE) AS x FROM range(0, 12)").write().parquet(bad.toString());
      // offsets: 10:00+02:00 is 08:00Z, before 09:00Z; as wall-clock times (a cast to TIMESTAMP_NTZ drops the offset) it
      // would come after
      spark.sql("SELECT 'k' AS k, ts, x FROM VALUES ('2024-01-05T10:00:00+02:00', 0D), ('2024-01-05T09:00:00Z', 1D),"
          + " ('2024-01-05T11:30:00+02:00', 2D) AS v(ts, x)").write().parquet(zoned.toString());
    } finally {
      spark.stop();
    }
    InferenceCommandsTest.Run z = InferenceCommandsTest.run("prep", "table", zoned.toString(), "--key", "k", "--order", "ts",
        "--inputs", "x", "--targets", "x", "--steps", "3", "--horizon", "0", "--batch", "1", "--validation-fraction", "0",
        "--master", "local[1]", "--out", tmp.resolve("zoned-out").toString());
    assertEquals(0, z.code(), z.err());
    Dataset zd = Dataset.open(tmp.resolve("zoned-out").toUri(), new Configuration());
    assertArrayEquals(new float[] {0, 1, 2}, zd.read(zd.manifest().shards().get(0)).x(), "in instant order");
    Path out = tmp.resolve("ds-out");
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", table.toString(), "--key", "k", "--order", "ds",
        "--inputs", "x,flag", "--targets", "x", "--steps", "12", "--horizon", "0", "--batch", "1", "--validation-fraction", "0",
        "--master", "local[1]", "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    Dataset d = Dataset.open(out.toUri(), new Configuration());
    Batch b = d.read(d.manifest().shards().get(0));
    float[] expected = new float[24];
    for (int t = 0; t < 12; t++) {
      expected[2 * t] = t;                       // in date order, not the file's
      expected[2 * t + 1] = t % 2 == 0 ? 1 : 0;  // flag true → 1
    }
    assertArrayEquals(expected, b.x());

    InferenceCommandsTest.Run refused = InferenceCommandsTest.run("prep", "table", bad.toString(), "--key", "k", "--order", "ds",
        "--inputs", "x", "--steps", "4", "--batch", "1", "--validation-fraction", "0", "--master", "local[1]", "--out",
        tmp.resolve("bad-out").toString());
    assertEquals(2, refused.code(), refused.err());
    assertTrue(refused.err().contains("--order: column 'ds' of " + bad) && refused.err().contains("it holds '05/01/2024', which"
        + " is neither"), refused.err());
    assertFalse(refused.err().contains("cast it first"), refused.err());
  }
}
