package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrepCommandTest {
  @TempDir Path tmp;

  @Test
  void prepThenInspectSucceed() {
    Path out = tmp.resolve("adding");
    assertEquals(0, Main.run("prep", "adding", "--out", out.toString(), "--steps", "10", "--sequences", "20", "--batch", "8"));
    assertTrue(Files.exists(out.resolve("manifest.json")));
    assertEquals(0, Main.run("inspect", out.toString()));
  }

  @Test
  void badInputExitsWithTwoAndLeavesNothing() throws IOException {
    Path csv = tmp.resolve("bad.csv");
    Files.writeString(csv, "a,b\n1,2\n3,x\n");
    Path out = tmp.resolve("bad");
    assertEquals(2, Main.run("prep", "csv", csv.toString(), "--out", out.toString(), "--steps", "1"));
    assertFalse(Files.exists(out));
    assertEquals(2, Main.run("inspect", tmp.resolve("nothing").toString()));
  }

  /** A 6 sensors x 60 hours example table, written by the example-table command. */
  private Path sensorsTable() {
    Path table = tmp.resolve("sensors.parquet");
    assertEquals(0, Main.run("example-table", "sensors", "--out", table.toString(), "--sensors", "6", "--hours", "60",
        "--master", "local[2]"));
    return table;
  }

  @Test
  void exampleTableThenPrepTableThenInspect() {
    Path table = sensorsTable();
    Path out = tmp.resolve("sensors-ds");
    assertEquals(0, Main.run("prep", "table", table.toString(), "--key", "sensor", "--order", "ts", "--inputs",
        "temp,load", "--steps", "12", "--stride", "6", "--normalize", "--batch", "16", "--out", out.toString(),
        "--master", "local[2]"));
    assertTrue(Files.exists(out.resolve("manifest.json")));
    assertEquals(0, Main.run("inspect", out.toString()));
    // bad input: a --where that does not parse, a column that is not there, a path that does not exist: exit 2, nothing written
    Path bad = tmp.resolve("bad-ds");
    assertEquals(2, Main.run("prep", "table", table.toString(), "--key", "sensor", "--order", "ts", "--inputs", "temp",
        "--steps", "12", "--where", "temp >>> 3", "--out", bad.toString(), "--master", "local[2]"));
    assertEquals(2, Main.run("prep", "table", table.toString(), "--key", "sensor", "--order", "ts", "--inputs", "tmp",
        "--steps", "12", "--out", bad.toString(), "--master", "local[2]"));
    assertEquals(2, Main.run("prep", "table", tmp.resolve("absent").toString(), "--order", "ts", "--inputs", "temp",
        "--steps", "12", "--out", bad.toString(), "--master", "local[2]"));
    assertFalse(Files.exists(bad));
  }

  /**
   * A by-time split that asked for validation but got none says so, and why: 6 sensors x 60 hours,
   * T = 12 with horizon 1 needs 13 rows per window; --validation-fraction 0.1 gives round(6) = 6
   * validation rows per series, and --gap 6 takes all of them. train --validate-every on that
   * dataset warns that it never validates. With fraction 0.25 and no gap, 15 rows hold one window
   * per series (stride 6: the second would need rows 6..18): 6 validation sequences, no warning.
   */
  @Test
  void aSplitThatGetsNoValidationWarnsInPrepAndTrain() {
    Path table = sensorsTable();
    Path none = tmp.resolve("no-validation");
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", table.toString(), "--key", "sensor", "--order", "ts",
        "--inputs", "temp,load", "--steps", "12", "--stride", "6", "--split", "by-time", "--gap", "6", "--batch", "8",
        "--out", none.toString(), "--master", "local[2]");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains(" + 0 validation sequences"), r.out());
    assertTrue(r.err().contains("warning: --split by-time asked for validation (--validation-fraction 0.1) but got no validation")
        && r.err().contains("round(60 x 0.1) = 6, less 6, leaves 0") && r.err().contains("a window needs 13"), r.err());

    InferenceCommandsTest.Run t = InferenceCommandsTest.run("train", "--data", none.toString(), "--out", tmp.resolve("run").toString(),
        "--hidden-size", "4", "--batch", "8", "--steps", "2", "--validate-every", "1", "--master", "local[1]", "--device", "jvm");
    assertEquals(0, t.code(), t.err());
    assertTrue(t.out().contains("warning: validate-every 1: the dataset " + none + " has no validation sequences"), t.out());

    Path some = tmp.resolve("some-validation");
    r = InferenceCommandsTest.run("prep", "table", table.toString(), "--key", "sensor", "--order", "ts", "--inputs", "temp,load",
        "--steps", "12", "--stride", "6", "--split", "by-time", "--validation-fraction", "0.25", "--batch", "8",
        "--out", some.toString(), "--master", "local[2]");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains(" + 6 validation sequences"), r.out());
    assertFalse(r.err().contains("warning"), r.err());
  }

  /**
   * Errors in spark-rnn's words, found before Spark reads or writes: an existing example-table --out
   * (Spark said to set mode "overwrite"), and a prep table path that does not exist (Spark logged
   * a WARN with an 80-line stack trace first, then PATH_NOT_FOUND).
   */
  @Test
  void anExistingTableOutAndAMissingSourceAreNamedBeforeSpark() throws IOException {
    Path table = Files.createDirectories(tmp.resolve("taken.parquet"));
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("example-table", "sensors", "--out", table.toString(), "--sensors", "2",
        "--hours", "10", "--master", "local[1]");
    InferenceCommandsTest.assertFails(r, "--out " + table + " already exists; pass --overwrite");
    assertFalse(r.err().contains("mode"), r.err());
    Path absent = tmp.resolve("nosuch.parquet");
    r = InferenceCommandsTest.run("prep", "table", absent.toString(), "--order", "ts", "--inputs", "temp", "--steps", "12",
        "--out", tmp.resolve("never").toString(), "--master", "local[1]");
    InferenceCommandsTest.assertFails(r, absent + " (--format parquet): no such file or directory");
    assertFalse(r.err().contains("PATH_NOT_FOUND"), "Spark read it: " + r.err());
    // a glob that matches nothing is no such file either
    r = InferenceCommandsTest.run("prep", "table", tmp.resolve("none-*.parquet").toString(), "--order", "ts", "--inputs", "temp",
        "--steps", "12", "--out", tmp.resolve("never").toString(), "--master", "local[1]");
    InferenceCommandsTest.assertFails(r, "none-*.parquet (--format parquet): no such file or directory");
    assertFalse(Files.exists(tmp.resolve("never")));
  }

  /**
   * A headerless CSV (as Spark's df.write.csv writes it) read with --format csv: its first row would
   * name the columns, and the error was "column 'k' not found; the table has [00, 01, 0.0, ...]"
   * (a user audit). Refused as prep csv refuses it; --option header=false reads it as data.
   */
  @Test
  void aHeaderlessCsvTableIsToldApartFromOneWithAHeader() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("headerless"));
    Files.writeString(dir.resolve("part-00000.csv"), "0,0,0.5\n0,1,0.7\n0,2,0.9\n0,3,1.1\n");
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", dir.toString(), "--format", "csv", "--key", "k",
        "--order", "t", "--inputs", "v", "--steps", "2", "--out", tmp.resolve("never-csv").toString(), "--master", "local[1]");
    InferenceCommandsTest.assertFails(r, dir + " (--format csv): the first line's fields are all numbers (",
        "--option header=false");
    r = InferenceCommandsTest.run("prep", "table", dir.toString(), "--format", "csv", "--option", "header=false", "--key", "_c0",
        "--order", "_c1", "--inputs", "_c2", "--steps", "2", "--out", tmp.resolve("headerless-ds").toString(), "--master",
        "local[1]");
    assertEquals(0, r.code(), r.err());
  }
}
