package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.kernel.model.Batch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A mutation audit of prep table's reader fixes (PrepCommand): the refusal of a column read as
 * strings for a --targets column (it named only --inputs columns in the tests), a "-inf" spelling,
 * and a boolean value column and a string --order column named in another case than the table's,
 * as every other column name on the command line may be, and a --targets struct field named with a
 * dot. Each of these survived a mutation that the neighbouring tests (CsvPlaceholderStringsTest,
 * StringTimeOnCommandLineTest, NestedFieldInputTest) did not catch.
 */
class PrepTableReaderFixesTest {
  @TempDir Path tmp;

  /** A --targets column with an "NA" placeholder is refused naming --targets, the file and nullValue. */
  @Test
  void aTargetColumnReadAsStringsIsRefusedNamingTargetsAndTheNullValueOption() throws IOException {
    StringBuilder csv = new StringBuilder("k,t,x,y\n");
    for (int t = 0; t < 8; t++) {
      csv.append("a,").append(t).append(',').append(t).append(',').append(t == 5 ? "NA" : String.valueOf(2 * t)).append('\n');
    }
    Path file = Files.writeString(tmp.resolve("xy.csv"), csv.toString());
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", file.toString(), "--format", "csv", "--key", "k",
        "--order", "t", "--inputs", "x", "--targets", "y", "--steps", "4", "--batch", "1", "--validation-fraction", "0",
        "--master", "local[1]", "--out", tmp.resolve("o").toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--targets: column 'y' of " + file + " (--format csv) was read as strings; expected numbers: it"
        + " holds 'NA', which the reader took for no number. If 'NA' marks a missing value, --option nullValue=NA reads it"), r.err());
  }

  /** A lower-case "-inf" is named with negativeInf, the option for its spelling (positiveInf would not read it). */
  @Test
  void aNegativeLowercaseInfIsNamedWithTheNegativeInfOption() throws IOException {
    StringBuilder sb = new StringBuilder("k,t,x\n");
    for (int t = 0; t < 8; t++) {
      sb.append("a,").append(t).append(',').append(t == 3 ? "-inf" : String.valueOf(t)).append('\n');
    }
    Path csv = Files.writeString(tmp.resolve("neg.csv"), sb.toString());
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", csv.toString(), "--format", "csv", "--key", "k",
        "--order", "t", "--inputs", "x", "--steps", "4", "--batch", "1", "--validation-fraction", "0", "--master", "local[1]",
        "--out", tmp.resolve("o").toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("it holds '-inf', which the reader took for no number. The CSV reader spells it NaN, Inf or -Inf:"
        + " --option negativeInf=-inf reads this spelling"), r.err());
  }

  /**
   * A Parquet table with a string date column ds and a boolean flag, named --order DS and --inputs
   * x,FLAG: read as dates and as 0 and 1, as they are when named in the table's case.
   */
  @Test
  void aStringOrderAndABooleanInputNamedInAnotherCaseAreReadAsTimesAndNumbers() throws IOException {
    Path table = tmp.resolve("daily.parquet");
    SparkSession spark = SparkSession.builder().master("local[1]").appName("PrepTableReaderFixesTest")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").getOrCreate();
    try {
      // one key, 6 days written in reverse order; x the day's number, flag true on even days
      spark.sql("SELECT 'k' AS k, date_format(date_add(DATE'2024-01-01', CAST(5 - id AS INT)), 'yyyy-MM-dd') AS ds,"
          + " CAST(5 - id AS DOUBLE) AS x, (5 - id) % 2 = 0 AS flag FROM range(0, 6)").coalesce(1).write().parquet(table.toString());
    } finally {
      spark.stop();
    }
    Path out = tmp.resolve("ds-out");
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", table.toString(), "--key", "k", "--order", "DS",
        "--inputs", "x,FLAG", "--targets", "x", "--steps", "6", "--horizon", "0", "--batch", "1", "--validation-fraction", "0",
        "--master", "local[1]", "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    Dataset d = Dataset.open(out.toUri(), new Configuration());
    Batch b = d.read(d.manifest().shards().get(0));
    float[] expected = new float[12];
    for (int t = 0; t < 6; t++) {
      expected[2 * t] = t;                       // in date order, not the file's
      expected[2 * t + 1] = t % 2 == 0 ? 1 : 0;  // flag true → 1
    }
    assertArrayEquals(expected, b.x());
  }

  /** A --targets struct field named with a dot is read as Spark resolves it, as an --inputs one is (NestedFieldInputTest). */
  @Test
  void aTargetStructFieldNamedWithADotIsReadAsANestedField() throws IOException {
    StringBuilder json = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      json.append("{\"k\":\"a\",\"t\":").append(i).append(",\"reading\":{\"temp\":").append(i)
          .append(",\"hum\":").append(50 + i).append("}}\n");
    }
    Path file = Files.writeString(tmp.resolve("nested.json"), json.toString());
    Path out = tmp.resolve("nested-out");
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", file.toString(), "--format", "json", "--key", "k",
        "--order", "t", "--inputs", "reading.temp", "--targets", "reading.hum", "--steps", "8", "--horizon", "0", "--batch", "1",
        "--validation-fraction", "0", "--master", "local[1]", "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    Dataset d = Dataset.open(out.toUri(), new Configuration());
    Batch b = d.read(d.manifest().shards().get(0));
    assertArrayEquals(new float[] {50, 51, 52, 53, 54, 55, 56, 57}, b.targets(), "reading.hum");
  }
}
