package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A user audit (userTab): a Parquet (or ORC) table whose day column is a string "2024-01-05", and a boolean flag column,
 * as warehouses export them. bin/spark-rnn prep table refuses them with the library's words, "--order: column 'ds' is
 * string; expected a timestamp, date, integer, floating or decimal column (cast it first, e.g. to_timestamp)" and
 * "--inputs: column 'flag' is boolean; …": the command line has no way to cast (--where only filters; a file source
 * takes no SQL), so the advice cannot be followed, and the message does not name the file as the CSV/JSON variant of
 * the same refusal does. A user expects a refusal that names the file and says what to do from the command line
 * (rewrite the table with the column cast, e.g. in spark-sql), or the ISO date strings to be read as dates.
 */
class StringTimeOnCommandLineTest {
  @TempDir Path tmp;

  @Test
  void aParquetStringDateColumnIsRefusedWithAdviceTheCommandLineCanFollow() {
    Path table = tmp.resolve("daily.parquet");
    SparkSession spark = SparkSession.builder().master("local[1]").appName("StringTimeOnCommandLineTest")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").getOrCreate();
    try {
      spark.sql("SELECT concat('k', CAST(id % 2 AS STRING)) AS k, date_format(date_add(DATE'2024-01-01', CAST(id DIV 2 AS INT)),"
          + " 'yyyy-MM-dd') AS ds, sin(id) AS x, id % 2 = 0 AS flag FROM range(0, 40)").write().parquet(table.toString());
    } finally {
      spark.stop();
    }
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", table.toString(), "--key", "k", "--order", "ds",
        "--inputs", "x", "--steps", "4", "--batch", "4", "--validation-fraction", "0", "--master", "local[1]", "--out",
        tmp.resolve("ds-out").toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("column 'ds'"), r.err());
    assertTrue(r.err().contains(table.toString()), "the refusal should name the file, as the CSV/JSON one does: " + r.err());
    assertFalse(r.err().contains("cast it first, e.g. to_timestamp"),
        "advice the command line cannot follow (it has no way to cast a column): " + r.err());
  }
}
