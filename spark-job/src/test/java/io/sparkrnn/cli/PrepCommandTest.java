package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.testing.Ports;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrepCommandTest {
  @TempDir Path tmp;

  /**
   * prep's summary line: the adding problem has F = 2 (value, marker) and O = 1 (the sum); 20
   * sequences at --validation-fraction 0.1 are 18 train + 2 validation, and --batch 8 makes
   * ceil(18 / 8) + ceil(2 / 8) = 3 + 1 shards (a shard holds one split).
   */
  @Test
  void prepPrintsTheShapeSplitAndShardCounts() {
    Path out = tmp.resolve("adding-summary");
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "adding", "--out", out.toString(), "--steps", "10",
        "--sequences", "20", "--batch", "8");
    assertEquals(0, r.code(), r.err());
    assertEquals("wrote " + out + ": adding, T=10 F=2 O=1, 18 train + 2 validation sequences in 4 shards", r.out().strip());
  }

  @Test
  void prepThenInspectSucceed() {
    Path out = tmp.resolve("adding");
    assertEquals(0, Main.run("prep", "adding", "--out", out.toString(), "--steps", "10", "--sequences", "20", "--batch", "8"));
    assertTrue(Files.exists(out.resolve("manifest.json")));
    assertEquals(0, Main.run("inspect", out.toString()));
  }

  /** inspect's point: a dataset whose shard fails its checks exits 2 naming the shard, not 0 after the summary. */
  @Test
  void inspectOfADatasetWithADamagedShardExitsTwoNamingIt() throws IOException {
    Path out = tmp.resolve("adding-damaged");
    assertEquals(0, Main.run("prep", "adding", "--out", out.toString(), "--steps", "10", "--sequences", "20", "--batch", "8"));
    Path shard = out.resolve("shard-00000.safetensors");
    byte[] bytes = Files.readAllBytes(shard);
    bytes[bytes.length - 1] ^= 1;                        // a value's lowest bit: the size still matches, the CRC32C does not
    Files.write(shard, bytes);
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("inspect", out.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("1 shard(s) failed verification") && r.err().contains("shard-00000.safetensors"), r.err());
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

  /** A typed 0 or -1 is refused, not read as the option's default (it was: --stride 0 cut windows T apart). */
  @Test
  void aTypedZeroStrideOrNegativeHorizonIsRefusedNotTakenForTheDefault() throws IOException {
    Path csv = tmp.resolve("ok.csv");
    Files.writeString(csv, "a,b\n1,2\n3,4\n5,6\n7,8\n");
    Path txt = tmp.resolve("ok.txt");
    Files.writeString(txt, "abcdefghij");
    Path out = tmp.resolve("never");
    String[][] cases = {
        {"csv", csv.toString(), "--steps", "2", "--stride", "0", "--stride must be at least 1, found 0"},
        {"csv", csv.toString(), "--steps", "2", "--horizon", "-1", "--horizon must be at least 0, found -1"},
        {"csv", csv.toString(), "--steps", "0", "--sequence-column", "a", "--steps must be at least 1, found 0"},
        {"text", txt.toString(), "--steps", "3", "--stride", "0", "--stride must be at least 1, found 0"},
        {"table", csv.toString(), "--format", "csv", "--order", "a", "--inputs", "b", "--steps", "2", "--min-steps", "0",
            "--min-steps must be at least 1, found 0"},
        {"table", csv.toString(), "--format", "csv", "--order", "a", "--inputs", "b", "--steps", "2", "--partitions", "0",
            "--partitions must be at least 1, found 0"}};
    for (String[] c : cases) {
      String[] args = new String[c.length + 2];
      args[0] = "prep";
      System.arraycopy(c, 0, args, 1, c.length - 1);
      args[c.length] = "--out";
      args[c.length + 1] = out.toString();
      InferenceCommandsTest.Run r = InferenceCommandsTest.run(args);
      assertEquals(2, r.code(), String.join(" ", args) + "\n" + r.err());
      assertTrue(r.err().contains(c[c.length - 1]), r.err());
      assertFalse(Files.exists(out), String.join(" ", args));
    }
    // absent, the defaults stand (stride T, horizon 1): 4 rows give ⌊(4 − 2 − 1) / 2⌋ + 1 = 1 window
    assertEquals(0, Main.run("prep", "csv", csv.toString(), "--steps", "2", "--out", out.toString(), "--batch", "1",
        "--validation-fraction", "0"));
  }

  /** A tab-separated file: the hint's --delimiter '\t' is what prep takes (it was refused as "not a single character"). */
  @Test
  void aTabSeparatedFileTakesTheDelimiterTheHintNames() throws IOException {
    Path tsv = Files.writeString(tmp.resolve("t.tsv"), "a\tb\n0.1\t0.2\n0.3\t0.4\n0.5\t0.6\n");
    InferenceCommandsTest.Run hint = InferenceCommandsTest.run("prep", "csv", tsv.toString(), "--out", tmp.resolve("t1").toString(),
        "--steps", "1");
    assertEquals(2, hint.code(), hint.err());
    assertTrue(hint.err().contains("needs --delimiter '\\t'"), hint.err());
    InferenceCommandsTest.Run taken = InferenceCommandsTest.run("prep", "csv", tsv.toString(), "--out", tmp.resolve("t2").toString(),
        "--steps", "1", "--delimiter", "\\t", "--batch", "1", "--validation-fraction", "0");
    assertEquals(0, taken.code(), taken.err());
    InferenceCommandsTest.Run two = InferenceCommandsTest.run("prep", "csv", tsv.toString(), "--out", tmp.resolve("t3").toString(),
        "--steps", "1", "--delimiter", ";;");
    assertEquals(2, two.code(), two.err());
    assertTrue(two.err().contains("';;' is not one character"), two.err());
  }

  /** A 6 sensors x 60 hours example table, written by the example-table command. */
  private Path sensorsTable() {
    Path table = tmp.resolve("sensors.parquet");
    assertEquals(0, Main.run("example-table", "sensors", "--out", table.toString(), "--sensors", "6", "--hours", "60",
        "--master", "local[2]"));
    return table;
  }

  @Test
  void exampleTableThenPrepTableThenInspect() throws IOException {
    Path table = sensorsTable();
    Path out = tmp.resolve("sensors-ds");
    assertEquals(0, Main.run("prep", "table", table.toString(), "--key", "sensor", "--order", "ts", "--inputs",
        "temp,load", "--steps", "12", "--stride", "6", "--normalize", "--batch", "16", "--out", out.toString(),
        "--master", "local[2]"));
    assertTrue(Files.exists(out.resolve("manifest.json")));
    // docs/data-format.md (Provenance): the path in full, a path without a scheme as the file:/… URI it names
    assertEquals("file:" + table, Dataset.open(out.toUri(), new Configuration()).manifest().spec().source().get("path"));
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
   * An --out that prep would refuse (a folder of other files; a killed prep's _temporary/ alone) is
   * refused before Spark starts, as prep sine refuses it, not after the session and the schema
   * (about 20 s on a loaded host, a user audit); the folder is left as it was.
   */
  @Test
  void anOutThatPrepWouldRefuseIsRefusedBeforeSparkStarts() throws IOException {
    Path notes = Files.createDirectories(tmp.resolve("notes-out"));
    Files.writeString(notes.resolve("notes.txt"), "mine");
    Path killed = Files.createDirectories(tmp.resolve("killed-out").resolve("_temporary"));
    String[][] cases = {{notes.toString(), "not a dataset; refusing to touch it"},
        {killed.getParent().toString(), "(1 entry, the _temporary/ of a prep that did not finish"}};
    for (String[] c : cases) {
      InferenceCommandsTest.Run r = InferenceCommandsTest.run("prep", "table", tmp.resolve("any.parquet").toString(), "--order",
          "ts", "--inputs", "temp", "--steps", "12", "--out", c[0], "--master", "local[1]");
      InferenceCommandsTest.assertFails(r, c[0] + ": exists and is not empty", c[1]);
      assertFalse(r.out().contains("starting Spark"), "refused before Spark starts: " + r.out());
    }
    assertEquals("mine", Files.readString(notes.resolve("notes.txt")));
    assertTrue(Files.isDirectory(killed));
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
   * example-table --format csv writes a header line (its option's description lists csv among the
   * formats; prep table reads the header by default), one row per sensor and hour: 2 sensors × 3 hours
   * = 6 rows, as printed; --overwrite replaces the table (2 × 4 = 8 rows).
   */
  @Test
  void exampleTableCsvHasAHeaderAndSensorsTimesHoursRowsAndOverwriteReplacesIt() throws IOException {
    Path table = tmp.resolve("sensors-csv");
    InferenceCommandsTest.Run r = InferenceCommandsTest.run("example-table", "sensors", "--out", table.toString(), "--format",
        "csv", "--sensors", "2", "--hours", "3", "--master", "local[1]");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("2 sensors x 3 hours = 6 rows"), r.out());
    assertEquals(6, csvRows(table));
    r = InferenceCommandsTest.run("example-table", "sensors", "--out", table.toString(), "--format", "csv", "--sensors", "2",
        "--hours", "4", "--overwrite", "--master", "local[1]");
    assertEquals(0, r.code(), r.err());
    assertEquals(8, csvRows(table), "--overwrite replaced the 6 rows");
  }

  /** Data rows of a CSV table directory; every part file starts with the header sensor,ts,temp,load. */
  private static long csvRows(Path dir) throws IOException {
    long rows = 0;
    try (var parts = Files.list(dir)) {
      for (Path p : parts.filter(f -> f.getFileName().toString().endsWith(".csv")).toList()) {
        List<String> lines = Files.readAllLines(p);
        if (!lines.isEmpty()) {
          assertEquals("sensor,ts,temp,load", lines.get(0), p.toString());
          rows += lines.size() - 1;
        }
      }
    }
    return rows;
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
    // a first line that is not all numbers (a string key, a time) passes for a header; the missing column's
    // message then says what header=false does (a user audit: it listed "[s01, 2024-01-02T12:00:00.000Z, ...]" only)
    Path keyed = Files.createDirectories(tmp.resolve("headerless-keyed"));
    Files.writeString(keyed.resolve("part-00000.csv"), "s01,2024-01-02T12:00:00.000Z,0.5\ns01,2024-01-02T13:00:00.000Z,0.7\n");
    r = InferenceCommandsTest.run("prep", "table", keyed.toString(), "--format", "csv", "--key", "sensor", "--order", "ts",
        "--inputs", "v", "--steps", "2", "--out", tmp.resolve("never-csv").toString(), "--master", "local[1]");
    InferenceCommandsTest.assertFails(r, "column 'sensor' not found; the table has [s01, ",
        "--format csv took the first line for the header: if the file has none, --option header=false names the columns _c0");
    assertFalse(Files.exists(tmp.resolve("never-csv")));
  }

  /**
   * A ';'-separated CSV read with ',' is one column: the missing column's message says to name the
   * separator (it said header=false, which does not help); a key with spaces around it reached Spark
   * as ' sep', which it ignored, and is now stripped.
   */
  @Test
  void aCsvWithAnotherSeparatorNamesSepAndOptionKeysAreStripped() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("semicolons"));
    Files.writeString(dir.resolve("part-00000.csv"), "sensor;t;v\na;0;0.5\na;1;0.7\na;2;0.9\na;3;1.1\n");
    String[] spec = {"--key", "sensor", "--order", "t", "--inputs", "v", "--steps", "2", "--master", "local[1]"};
    InferenceCommandsTest.Run r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", dir.toString(), "--format", "csv",
        "--out", tmp.resolve("never").toString()}, spec));
    InferenceCommandsTest.assertFails(r, "column 'sensor' not found", "--format csv read one column, 'sensor;t;v'",
        "--option 'sep=;'", "--option 'sep=\\t'");   // a backslash and a t, as Spark's sep takes a tab
    assertFalse(r.err().contains("header=false"), r.err());
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", dir.toString(), "--format", "csv", "--option", " sep=;",
        "--out", tmp.resolve("semicolons-ds").toString()}, spec));
    assertEquals(0, r.code(), r.err());
  }

  /**
   * JDBC refusals a user audit found as a stack trace or a bare name: a NUMERIC value past Spark's
   * decimal(38) (2e38, a legal float32 value: float32 reaches 3.4e38) failed with SparkArithmeticException's
   * trace, exit 1;
   * an --option driver class not on the classpath read only its name; a missing url was Spark's
   * "requirement failed" after its start. Each is bad input: exit 2, one line saying what to do.
   */
  @Test
  void jdbcValuesPastDecimal38AMissingDriverClassAndNoUrlAreNamed() throws Exception {
    String url = "jdbc:h2:mem:prep_jdbc_refusals;DB_CLOSE_DELAY=-1";
    try (Connection c = DriverManager.getConnection(url);
        Statement st = c.createStatement()) {
      // NUMERIC without a precision: Spark reads it as decimal(38, 0); NUMERIC(10, 2) as decimal(10, 2), which is not
      // the widest and holds no value past it, so the hint does not name it
      st.execute("CREATE TABLE wide (sensor INT, t INT, temp NUMERIC, load DOUBLE PRECISION, price NUMERIC(10, 2))");
      for (int t = 0; t < 8; t++) {
        st.execute("INSERT INTO wide VALUES (1, " + t + ", " + (t == 5 ? "2E38" : Integer.toString(20 + t)) + ", 0.5, 1.25)");
      }
    }
    String[] spec = {"--key", "sensor", "--order", "t", "--inputs", "temp,load", "--steps", "4", "--master", "local[1]"};
    String[] never = {"--out", tmp.resolve("never-wide").toString()};
    InferenceCommandsTest.Run r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "wide", "--format", "jdbc",
        "--option", "url=" + url}, concat(spec, never)));
    InferenceCommandsTest.assertFails(r, "wide (--format jdbc): [NUMERIC_VALUE_OUT_OF_RANGE", "cannot be represented as Decimal(38, 0)",
        "(the table's decimal(38) columns: TEMP; read such a column as a double: --option 'customSchema=TEMP DOUBLE')");
    // neither the task's trace nor Spark's warnings about the temporary shuffle files the task never wrote (conf/log4j2.properties)
    assertFalse(r.err().contains("\tat ") || r.err().contains("temp_shuffle_"), r.err());
    // the hint's own option reads the row (2e38 is a float32 value), which then passes; 1e40 would then be a missing
    // value (past float32's range), and was prepped as Infinity until 2026-12-07 (a user audit of the ML API)
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "wide", "--format", "jdbc", "--option", "url=" + url,
        "--option", "customSchema=TEMP DOUBLE", "--out", tmp.resolve("wide-ds").toString()}, spec));
    assertEquals(0, r.code(), r.err());
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "wide", "--format", "jdbc", "--option", "url=" + url,
        "--option", "driver=org.example.NoSuchDriver"}, concat(spec, never)));
    InferenceCommandsTest.assertFails(r, "wide (--format jdbc): the JDBC driver class org.example.NoSuchDriver (--option driver) is"
        + " not on the classpath: put the database's driver jar there (bin/spark-rnn: SPARK_RNN_CLASSPATH=driver.jar;");
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "wide", "--format", "jdbc"}, concat(spec, never)));
    InferenceCommandsTest.assertFails(r, "--format jdbc needs the database's address: --option url=jdbc:...");
    assertFalse(r.out().contains("starting Spark"), "refused before Spark starts: " + r.out());
    // another arithmetic error, a --where that divides by zero (Spark's ANSI mode), is bad input too, but
    // the decimal(38) hint is not about it (a review: it sent the user to TEMP)
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "wide", "--format", "jdbc", "--option", "url=" + url,
        "--option", "customSchema=TEMP DOUBLE", "--where", "sensor / (t - t) > 0"}, concat(spec, never)));
    InferenceCommandsTest.assertFails(r, "wide (--format jdbc, --where sensor / (t - t) > 0): [DIVIDE_BY_ZERO]");
    assertFalse(r.err().contains("decimal(38)"), r.err());
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "wide", "--format", "jdbc", "--option", "url=" + url,
        "--option", "customSchema=TEMP DOUBLE", "--where", "t * 2147483647 > 0"}, concat(spec, never)));
    InferenceCommandsTest.assertFails(r, "wide (--format jdbc, --where t * 2147483647 > 0): [ARITHMETIC_OVERFLOW]");
    assertFalse(r.err().contains("decimal(38)"), r.err());
    // and with TEMP read as decimal(38, 0), as the hint would name it: the --where's division fails on the first row,
    // before the row of 2E38 is read, and is still not sent to TEMP (the tests above read TEMP as a double, where the
    // hint has no column to name whatever the error)
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "wide", "--format", "jdbc", "--option", "url=" + url,
        "--where", "sensor / (t - t) > 0"}, concat(spec, never)));
    InferenceCommandsTest.assertFails(r, "wide (--format jdbc, --where sensor / (t - t) > 0): [DIVIDE_BY_ZERO]");
    assertFalse(r.err().contains("decimal(38)"), r.err());
  }

  /** A file SOURCE goes into the manifest as a full URI: a relative one named no place read from elsewhere; a scheme is kept. */
  @Test
  void aRelativeSourcePathIsRecordedInFull() throws IOException {
    String here = java.nio.file.Path.of("").toAbsolutePath().toString();
    assertEquals("file:" + here + "/data/sensors.orc", PrepCommand.Table.qualified("data/sensors.orc", new Configuration()));
    assertEquals("file:/tmp/x/*.parquet", PrepCommand.Table.qualified("/tmp/x/*.parquet", new Configuration()));
    assertEquals("hdfs://nn:8020/t", PrepCommand.Table.qualified("hdfs://nn:8020/t", new Configuration()));
    // on the default file system of the configuration given (the session's: spark.hadoop.fs.defaultFS too), not file:
    Configuration other = new Configuration();
    other.set("fs.defaultFS", "other:///");
    other.set("fs.other.impl", OtherLocalFileSystem.class.getName());
    other.setBoolean("fs.other.impl.disable.cache", true);
    assertEquals("other:" + here + "/data/sensors.orc", PrepCommand.Table.qualified("data/sensors.orc", other));
  }

  /** The local file system under another scheme, as a default file system other than file:. */
  public static final class OtherLocalFileSystem extends org.apache.hadoop.fs.RawLocalFileSystem {
    @Override
    public java.net.URI getUri() {
      return java.net.URI.create("other:///");
    }

    @Override
    public String getScheme() {
      return "other";
    }
  }

  /** SOURCE and dbtable name one table when equal in any case, or one is the other schema-qualified. */
  @Test
  void aJdbcSourceAndDbtableNameOneTableAlsoSchemaQualified() {
    assertTrue(PrepCommand.Table.sameTable("readings", "READINGS"));
    assertTrue(PrepCommand.Table.sameTable("SERIES", "PUBLIC.SERIES"));
    assertTrue(PrepCommand.Table.sameTable("public.series", " series "));
    assertFalse(PrepCommand.Table.sameTable("other_table", "readings"));
    assertFalse(PrepCommand.Table.sameTable("a.series", "b.series"), "two schemas' tables");
    assertFalse(PrepCommand.Table.sameTable("series", "public.myseries"));
  }

  /**
   * CSV times in a pattern the reader does not know stay strings: with timestampFormat given, the
   * message says that its pattern did not match (it advised giving the option that was given), and
   * a misspelt option name is refused naming the one meant (Spark ignored it without a word).
   */
  @Test
  void csvTimesInAnotherPatternNameTheOptionAndItsMisspelling() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("dmy"));
    Files.writeString(dir.resolve("part-00000.csv"), "sensor,ts,v\na,02/01/2024 10:00,0.5\na,02/01/2024 11:00,0.7\n"
        + "a,02/01/2024 12:00,0.9\n");
    String[] spec = {"--key", "sensor", "--order", "ts", "--inputs", "v", "--steps", "2", "--out", tmp.resolve("never").toString(),
        "--master", "local[1]"};
    InferenceCommandsTest.Run r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", dir.toString(), "--format", "csv",
        "--option", "timestampFormat=yyyy-MM-dd HH:mm"}, spec));
    InferenceCommandsTest.assertFails(r, "--order: column 'ts' of " + dir + " (--format csv) was read as strings",
        "--option timestampFormat=yyyy-MM-dd HH:mm was given, and its values do not match it");
    // with inference off the pattern was never tried: the message names inferSchema, and does not blame the pattern (a review)
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", dir.toString(), "--format", "csv",
        "--option", "inferSchema=false", "--option", "timestampFormat=dd/MM/yyyy HH:mm"}, spec));
    InferenceCommandsTest.assertFails(r, "--option inferSchema=true (it is false)");
    assertFalse(r.err().contains("do not match"), r.err());
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", dir.toString(), "--format", "csv",
        "--option", "timestampFormt=dd/MM/yyyy HH:mm"}, spec));
    InferenceCommandsTest.assertFails(r, "--option timestampFormt: not an option of Spark's csv reader; did you mean timestampFormat?");
    assertFalse(r.out().contains("starting Spark"), "refused before Spark starts: " + r.out());
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", dir.toString(), "--format", "csv",
        "--option", "timestampFormat=dd/MM/yyyy HH:mm"}, spec));
    assertEquals(0, r.code(), r.err());
  }

  /**
   * A table behind JDBC (the README lists it among prep table's sources): 3 sensors x 40 steps in
   * an in-memory H2 database, and the same rows as a CSV file. Both preps read the same rows, so
   * every shard is byte-identical; only the manifest's source differs.
   */
  @Test
  void aJdbcTableGivesTheSameShardsAsTheSameRowsInAFile() throws Exception {
    String url = "jdbc:h2:mem:prep_jdbc;DB_CLOSE_DELAY=-1";
    StringBuilder csv = new StringBuilder("sensor,t,temp,load\n");
    try (Connection c = DriverManager.getConnection(url);
        Statement st = c.createStatement()) {
      st.execute("CREATE TABLE readings (sensor INT, t INT, temp DOUBLE PRECISION, load DOUBLE PRECISION)");
      try (PreparedStatement ins = c.prepareStatement("INSERT INTO readings VALUES (?, ?, ?, ?)")) {
        for (int s = 0; s < 3; s++) {
          for (int t = 0; t < 40; t++) {
            double temp = 20 + 5 * Math.sin(0.3 * t + s);
            double load = 0.1 * s + 0.01 * t;
            ins.setInt(1, s);
            ins.setInt(2, t);
            ins.setDouble(3, temp);
            ins.setDouble(4, load);
            ins.addBatch();
            csv.append(s).append(',').append(t).append(',').append(temp).append(',').append(load).append('\n');
          }
        }
        ins.executeBatch();
      }
    }
    Path file = Files.writeString(tmp.resolve("readings.csv"), csv);
    String[] spec = {"--key", "sensor", "--order", "t", "--inputs", "temp,load", "--steps", "8", "--stride", "4",
        "--normalize", "--batch", "4", "--master", "local[2]"};
    Path fromJdbc = tmp.resolve("jdbc-ds");
    // SOURCE names the table when no dbtable or query option does
    InferenceCommandsTest.Run r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "readings", "--format",
        "jdbc", "--option", "url=" + url, "--out", fromJdbc.toString()}, spec));
    assertEquals(0, r.code(), r.err());
    Path fromFile = tmp.resolve("csv-ds");
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", file.toString(), "--format", "csv", "--out",
        fromFile.toString()}, spec));
    assertEquals(0, r.code(), r.err());
    assertSameShards(fromFile, fromJdbc);
    String manifest = Files.readString(fromJdbc.resolve("manifest.json"));
    assertTrue(manifest.contains("\"format\": \"jdbc\"") && manifest.contains("\"table\": \"readings\""), manifest);
    assertFalse(manifest.contains("h2:mem") || manifest.contains("\"path\""), "the manifest records what was read, not how: "
        + manifest);
    // a query instead of a table gives the same rows
    Path fromQuery = tmp.resolve("query-ds");
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "--format", "jdbc", "--option",
        "url=" + url, "--option", "query=SELECT * FROM readings WHERE sensor < 9", "--out", fromQuery.toString()}, spec));
    assertEquals(0, r.code(), r.err());
    assertTrue(Files.readString(fromQuery.resolve("manifest.json")).contains("\"query\": \"SELECT * FROM readings WHERE"));
    assertSameShards(fromFile, fromQuery);
    // with --option dbtable (or query) naming what to read, SOURCE may be left out (it was required, then only a label)
    Path noSource = tmp.resolve("no-source-ds");
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "--format", "jdbc", "--option", "url=" + url,
        "--option", "dbtable=readings", "--out", noSource.toString()}, spec));
    assertEquals(0, r.code(), r.err());
    assertSameShards(fromFile, noSource);
    assertTrue(Files.readString(noSource.resolve("manifest.json")).contains("\"table\": \"readings\""));
    // without either, SOURCE is missing: one line, exit 2, as for any other format
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "--format", "jdbc", "--option", "url=" + url,
        "--out", tmp.resolve("never").toString()}, spec));
    InferenceCommandsTest.assertFails(r, "prep table: Missing required parameter: 'SOURCE'", "--option dbtable=");
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "--out", tmp.resolve("never").toString()}, spec));
    InferenceCommandsTest.assertFails(r, "prep table: Missing required parameter: 'SOURCE'");
    // the database's refusals are bad input (exit 2, one line naming the source), not a bug's stack trace
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "no_such_table", "--format", "jdbc", "--option",
        "url=" + url, "--out", tmp.resolve("never").toString()}, spec));
    InferenceCommandsTest.assertFails(r, "no_such_table (--format jdbc): ", "NO_SUCH_TABLE");
    assertFalse(r.err().contains("\tat "), r.err());
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "readings", "--format", "jdbc", "--option",
        "url=jdbc:nosuchdb://localhost/x", "--out", tmp.resolve("never").toString()}, spec));
    InferenceCommandsTest.assertFails(r, "readings (--format jdbc): No suitable driver for jdbc:nosuchdb: URLs: put the database's JDBC driver jar on the classpath (bin/spark-rnn: SPARK_RNN_CLASSPATH=");
    assertFalse(r.err().contains("\tat "), r.err());
    // options go into the manifest's source, but not those that may carry credentials (a user audit: the
    // options, Delta's versionAsOf among them, were not recorded)
    Path withOptions = tmp.resolve("options-ds");
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "readings", "--format", "jdbc", "--option", "url=" + url,
        "--option", "user=", "--option", "password=", "--option", "fetchsize=7", "--out", withOptions.toString()}, spec));
    assertEquals(0, r.code(), r.err());
    Map<String, Object> source = Dataset.open(withOptions.toUri(), new Configuration())
        .manifest().spec().source();
    assertEquals(Map.of("fetchsize", "7"), source.get("options"), source.toString());
    assertEquals(List.of("password", "url", "user"), source.get("options_withheld"), source.toString());
    // a database error while the rows are read (not when the schema is) is the database's, exit 2
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "--format", "jdbc", "--option", "url=" + url,
        "--option", "query=SELECT sensor, t, CAST('x' || sensor AS DOUBLE PRECISION) AS temp, load FROM readings", "--out",
        tmp.resolve("never").toString()}, spec));
    InferenceCommandsTest.assertFails(r, "Data conversion error");
    assertFalse(r.err().contains("\tat "), r.err());
    // the url's user and password never reach the message
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "readings", "--format", "jdbc", "--option",
        "url=jdbc:nosuchdb://etl:s3cret@localhost/x?password=s3cret", "--out", tmp.resolve("never").toString()}, spec));
    InferenceCommandsTest.assertFails(r, "No suitable driver for jdbc:nosuchdb: URLs");
    assertFalse(r.err().contains("s3cret"), r.err());
    // SOURCE and dbtable (or query) both name what to read: Spark read the option's and dropped SOURCE without a word
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "other_table", "--format", "jdbc", "--option", "url=" + url,
        "--option", "dbtable=readings", "--out", tmp.resolve("never").toString()}, spec));
    InferenceCommandsTest.assertFails(r, "SOURCE other_table and --option dbtable=readings both name what to read from the"
        + " database (--format jdbc); give one of them");
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "other_table", "--format", "jdbc", "--option", "url=" + url,
        "--option", "query=SELECT * FROM readings", "--out", tmp.resolve("never").toString()}, spec));
    InferenceCommandsTest.assertFails(r, "SOURCE other_table and --option query both name what to read");
    // the same table twice is no conflict
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "readings", "--format", "jdbc", "--option", "url=" + url,
        "--option", "dbtable=readings", "--out", tmp.resolve("twice-ds").toString()}, spec));
    assertEquals(0, r.code(), r.err());
    assertSameShards(fromFile, tmp.resolve("twice-ds"));
    // a key Spark does not know goes to the driver as a connection property; one edit from Spark's own (fetchsiz) with a word
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "readings", "--format", "jdbc", "--option", "url=" + url,
        "--option", "fetchsiz=7", "--out", tmp.resolve("fetchsiz-ds").toString()}, spec));
    assertTrue(r.err().contains("warning: --option fetchsiz: not an option of Spark's jdbc reader, so it goes to the JDBC driver"
        + " as a connection property; did you mean fetchsize?"), r.err());
    // the format's name in any case, as Spark matches it: CSV reads with a header, as csv does
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", file.toString(), "--format", "CSV", "--out",
        tmp.resolve("csv-upper-ds").toString()}, spec));
    assertEquals(0, r.code(), r.err());
    assertSameShards(fromFile, tmp.resolve("csv-upper-ds"));
    // a CSV file read as the default parquet: the file and the way out, exit 2 (it was a bug's stack trace)
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", file.toString(), "--out", tmp.resolve("never").toString()},
        spec));
    InferenceCommandsTest.assertFails(r, file + " (--format parquet): [FAILED_READ_FILE.CANNOT_READ_FILE_FOOTER]",
        "name it with --format (parquet is the default; csv, orc, json)");
    assertFalse(r.err().contains("\tat "), r.err());
    // a format nobody registered is named with the same hint
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "readings", "--format", "nosuchformat", "--out",
        tmp.resolve("never").toString()}, spec));
    InferenceCommandsTest.assertFails(r, "readings (--format nosuchformat): [DATA_SOURCE_NOT_FOUND] Failed to find the data source: nosuchformat",
        "its jars on the classpath: bin/spark-rnn: SPARK_RNN_CLASSPATH=");
    assertFalse(r.err().contains("\tat "), r.err());
    assertFalse(Files.exists(tmp.resolve("never")));
  }

  /**
   * A Delta Lake table (by path, as spark-submit --packages io.delta:delta-spark_2.13 reads it):
   * version 0 holds sensors 0-2 (sensor-00000 …) of the example table, version 1 appends the other three. The
   * latest version gives the shards of the whole Parquet table; {@code --option versionAsOf=0}
   * (time travel) those of the Parquet table filtered to sensors 0-2.
   */
  @Test
  void aDeltaTableAndItsVersionsGiveTheShardsOfTheSameRows() throws IOException {
    Path parquet = sensorsTable();
    Path delta = tmp.resolve("sensors.delta");
    SparkSession spark = localSession("delta")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog").getOrCreate();
    try {
      org.apache.spark.sql.Dataset<Row> rows = spark.read().parquet(parquet.toString());
      rows.where("sensor < 'sensor-00003'").write().format("delta").save(delta.toString());
      rows.where("sensor >= 'sensor-00003'").write().format("delta").mode("append").save(delta.toString());
    } finally {
      spark.stop();
    }
    String[] spec = {"--key", "sensor", "--order", "ts", "--inputs", "temp,load", "--steps", "12", "--stride", "6",
        "--normalize", "--batch", "16", "--master", "local[2]"};
    String[][] cases = {
        {delta.toString(), "--format", "delta"},
        {parquet.toString()},
        {delta.toString(), "--format", "delta", "--option", "versionAsOf=0"},
        {parquet.toString(), "--where", "sensor < 'sensor-00003'"}};
    Path[] out = new Path[cases.length];
    for (int i = 0; i < cases.length; i++) {
      out[i] = tmp.resolve("delta-case-" + i);
      InferenceCommandsTest.Run r = InferenceCommandsTest.run(concat(concat(new String[] {"prep", "table"}, cases[i]),
          concat(spec, new String[] {"--out", out[i].toString()})));
      assertEquals(0, r.code(), String.join(" ", cases[i]) + ": " + r.err());
    }
    assertSameShards(out[1], out[0]);
    assertSameShards(out[3], out[2]);
    // which version was read is in the manifest
    assertEquals(Map.of("versionAsOf", "0"), Dataset.open(out[2].toUri(), new Configuration())
        .manifest().spec().source().get("options"));
    // a bad version is the user's: one line, exit 2 (it was 217 lines, exit 1)
    InferenceCommandsTest.Run bad = InferenceCommandsTest.run(concat(new String[] {"prep", "table", delta.toString(), "--format",
        "delta", "--option", "versionAsOf=abc", "--out", tmp.resolve("never-delta").toString()}, spec));
    InferenceCommandsTest.assertFails(bad, delta + " (--format delta): ");
    assertFalse(bad.err().contains("\tat "), bad.err());
    // a misspelt versionAsOf read the latest version, and the manifest recorded the typo (a user audit)
    bad = InferenceCommandsTest.run(concat(new String[] {"prep", "table", delta.toString(), "--format", "delta", "--option",
        "versionAsOff=0", "--out", tmp.resolve("never-delta").toString()}, spec));
    InferenceCommandsTest.assertFails(bad, "--option versionAsOff: not an option of Delta's reader; did you mean versionAsOf?");
    // a time before the first version: Delta's whole sentence, which it breaks over two lines (the second was lost)
    bad = InferenceCommandsTest.run(concat(new String[] {"prep", "table", delta.toString(), "--format", "delta", "--option",
        "timestampAsOf=2020-01-01 00:00:00", "--out", tmp.resolve("never-delta").toString()}, spec));
    InferenceCommandsTest.assertFails(bad, delta + " (--format delta): ", "before the earliest version available to this table (");
    // a change feed the table never recorded: Delta refuses only when the rows are read (it was a stack trace, exit 1)
    bad = InferenceCommandsTest.run(concat(new String[] {"prep", "table", delta.toString(), "--format", "delta", "--option",
        "readChangeFeed=true", "--option", "startingVersion=0", "--out", tmp.resolve("never-delta").toString()}, spec));
    InferenceCommandsTest.assertFails(bad, delta + " (--format delta): ", "DELTA_MISSING_CHANGE_DATA");
    assertFalse(bad.err().contains("\tat "), bad.err());
    assertFalse(Files.exists(tmp.resolve("never-delta")));
    assertFalse(Arrays.equals(Files.readAllBytes(shardsOf(out[0]).get(0)), Files.readAllBytes(shardsOf(out[2]).get(0))),
        "version 0 holds fewer sensors than the latest");
  }

  /**
   * JSON lines as Spark writes them: the reader leaves ISO 8601 timestamps as strings unless told
   * (inferTimestamp is false by default since Spark 3.0), and the library's "cast it first" is no
   * way out on a command line (a user audit). prep names the reader's option; with it, the shards
   * are those of the same rows read from Parquet.
   */
  @Test
  void aJsonTimeColumnReadAsStringsNamesTheReadersOption() throws IOException {
    Path parquet = sensorsTable();
    Path json = tmp.resolve("sensors.json");
    SparkSession spark = localSession("json").getOrCreate();
    try {
      spark.read().parquet(parquet.toString()).write().json(json.toString());
    } finally {
      spark.stop();
    }
    String[] spec = {"--key", "sensor", "--order", "ts", "--inputs", "temp,load", "--steps", "12", "--stride", "6", "--batch", "16",
        "--master", "local[2]"};
    InferenceCommandsTest.Run r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", json.toString(), "--format", "json",
        "--out", tmp.resolve("never").toString()}, spec));
    InferenceCommandsTest.assertFails(r, "--order: column 'ts' of " + json + " (--format json) was read as strings",
        "--option inferTimestamp=true");
    assertFalse(Files.exists(tmp.resolve("never")));
    Path fromJson = tmp.resolve("json-ds");
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", json.toString(), "--format", "json", "--option",
        "inferTimestamp=true", "--out", fromJson.toString()}, spec));
    assertEquals(0, r.code(), r.err());
    Path fromParquet = tmp.resolve("json-parquet-ds");
    r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", parquet.toString(), "--out", fromParquet.toString()}, spec));
    assertEquals(0, r.code(), r.err());
    assertSameShards(fromParquet, fromJson);
  }

  /**
   * A Hive metastore's table (embedded Derby, as spark-shell makes one) read by name with
   * {@code --format table}: prep's session takes Hive's catalog when Spark's Hive support is on the
   * classpath and the configuration names no catalog (with the in-memory one the table is unknown to
   * a new session). The shards are those of the same rows read from Parquet, and {@code --option}
   * keys reach the table's reader.
   */
  @Test
  void aHiveTableIsReadByNameFromTheMetastore() throws IOException {
    Path parquet = sensorsTable();
    Map<String, String> props = new LinkedHashMap<>();
    props.put("spark.sql.warehouse.dir", tmp.resolve("warehouse").toUri().toString());
    props.put("spark.hadoop.javax.jdo.option.ConnectionURL", "jdbc:derby:;databaseName=" + tmp.resolve("metastore_db") + ";create=true");
    props.put("derby.stream.error.file", tmp.resolve("derby.log").toString());
    Map<String, String> before = new LinkedHashMap<>();
    props.forEach((k, v) -> before.put(k, System.setProperty(k, v)));
    try {
      SparkSession spark = localSession("hive").enableHiveSupport().getOrCreate();
      try {
        spark.sql("CREATE DATABASE plant");
        spark.read().parquet(parquet.toString()).write().saveAsTable("plant.readings");
      } finally {
        spark.stop();
      }
      String[] spec = {"--key", "sensor", "--order", "ts", "--inputs", "temp,load", "--steps", "12", "--stride", "6", "--batch", "16",
          "--master", "local[2]"};
      Path fromHive = tmp.resolve("hive-ds");
      InferenceCommandsTest.Run r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "plant.readings", "--format",
          "table", "--out", fromHive.toString()}, spec));
      assertEquals(0, r.code(), r.err());
      Path fromParquet = tmp.resolve("hive-parquet-ds");
      r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", parquet.toString(), "--out", fromParquet.toString()}, spec));
      assertEquals(0, r.code(), r.err());
      assertSameShards(fromParquet, fromHive);
      // --option reaches the table's reader: a file filter that no Parquet file of the table matches leaves no rows
      r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "plant.readings", "--format", "table", "--option",
          "pathGlobFilter=*.csv", "--out", tmp.resolve("filtered").toString()}, spec));
      InferenceCommandsTest.assertFails(r, "no rows");
      r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "plant.nosuch", "--format", "table", "--out",
          tmp.resolve("never").toString()}, spec));
      InferenceCommandsTest.assertFails(r, "plant.nosuch (--format table): ", "TABLE_OR_VIEW_NOT_FOUND");
      // a metastore that cannot be reached: the cause and the URIs in one line (the message named only "Unable to
      // instantiate SessionHiveMetaStoreClient", three wrappers up)
      int closed = Ports.free();
      String uris = "thrift://127.0.0.1:" + closed;
      Map<String, String> remote = Map.of("spark.hadoop.hive.metastore.uris", uris, "spark.hadoop.hive.metastore.connect.retries", "1");
      remote.forEach((k, v) -> before.putIfAbsent(k, System.setProperty(k, v)));
      r = InferenceCommandsTest.run(concat(new String[] {"prep", "table", "plant.readings", "--format", "table", "--out",
          tmp.resolve("never").toString()}, spec));
      InferenceCommandsTest.assertFails(r, "plant.readings (--format table): Could not connect to meta store",
          "(the Hive metastore: hive.metastore.uris=" + uris + ";");
      assertFalse(r.err().contains("\tat "), r.err());
      // nor the frames of the thrift trace inside Hive's message, joined into the line (a review)
      assertFalse(Pattern.compile(" at [a-z]+\\.[\\w.$]+\\(").matcher(r.err()).find(), r.err());
      assertFalse(Files.exists(tmp.resolve("never")));
    } finally {
      before.forEach((k, v) -> {
        if (v == null) {
          System.clearProperty(k);
        } else {
          System.setProperty(k, v);
        }
      });
    }
  }

  /** The dataset's files other than the manifest, by name. */
  private static List<Path> shardsOf(Path dataset) throws IOException {
    try (Stream<Path> files = Files.list(dataset)) {
      return files.filter(f -> !f.getFileName().toString().equals("manifest.json")).sorted().toList();
    }
  }

  /** {@code actual} has exactly {@code expected}'s shard files, byte for byte. */
  private static void assertSameShards(Path expected, Path actual) throws IOException {
    List<Path> want = shardsOf(expected);
    List<Path> got = shardsOf(actual);
    assertFalse(want.isEmpty(), expected + " has no shards");
    assertEquals(want.stream().map(p -> p.getFileName().toString()).toList(),
        got.stream().map(p -> p.getFileName().toString()).toList(), actual + "'s shard files");
    for (int i = 0; i < want.size(); i++) {
      assertTrue(Arrays.equals(Files.readAllBytes(want.get(i)), Files.readAllBytes(got.get(i))),
          actual + ": " + got.get(i).getFileName() + " differs from " + expected);
    }
  }

  /** A local[1] session on the loopback address, without UI, that writes a test's table ({@code name} in its app name). */
  private static SparkSession.Builder localSession(String name) {
    return SparkSession.builder().master("local[1]").appName("PrepCommandTest-" + name)
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1").config("spark.ui.enabled", "false");
  }

  private static String[] concat(String[] a, String[] b) {
    String[] all = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }
}
