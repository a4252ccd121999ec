package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.source.CsvSource;
import io.sparkrnn.data.spark.ExampleTables;
import io.sparkrnn.data.spark.MissingColumnException;
import io.sparkrnn.data.spark.SequenceTables;
import io.sparkrnn.data.spark.TableSpec;
import io.sparkrnn.kernel.model.Batch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The table source in Spark local mode: windows, order, splits, determinism and bad input. */
class SequenceTablesTest {
  static SparkSession spark;
  @TempDir Path tmp;

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[2]").appName("sequence-tables-test")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "3").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    if (spark != null) {
      spark.stop();
    }
  }

  private static final StructType LONG = new StructType(new StructField[] {
      DataTypes.createStructField("sensor", DataTypes.StringType, true),
      DataTypes.createStructField("t", DataTypes.LongType, true),
      DataTypes.createStructField("a", DataTypes.DoubleType, true),
      DataTypes.createStructField("b", DataTypes.DoubleType, true)});

  /** Sensor k (k = 0..keys-1) has rows t = 0..rows-1 with a = 100k + t, b = -t; rows listed in a scrambled order. */
  private static Dataset<Row> sensors(int keys, int rows) {
    List<Row> list = new ArrayList<>();
    for (int t = rows - 1; t >= 0; t--) {
      for (int k = 0; k < keys; k++) {
        list.add(RowFactory.create("s" + k, (long) t, 100.0 * k + t, (double) -t));
      }
    }
    return spark.createDataFrame(list, LONG);
  }

  private static TableSpec spec(int steps, int stride, int batch, double fraction, TableSpec.SplitMode split,
      boolean normalize) {
    return new TableSpec(List.of("sensor"), "t", List.of("a", "b"), List.of(), 0, false, steps, stride, -1, 0, null,
        split, fraction, 0, normalize, TableSpec.Missing.ERROR, batch, 7, 0, Map.of("format", "test"));
  }

  private static Batch shard(Path dir, Manifest m, ShardInfo s) throws IOException {
    return ShardCodec.decode(Files.readAllBytes(dir.resolve(s.file())), m.spec(), s.file(), s.batch());
  }

  /** Spark's own xxhash64(seed, key) per key, computed in SQL beside the code under test. */
  private static Map<String, Long> hashes(int keys, long seed) {
    Map<String, Long> h = new HashMap<>();
    for (int k = 0; k < keys; k++) {
      h.put("s" + k, spark.sql("select xxhash64(cast(" + seed + " as bigint), 's" + k + "')").first().getLong(0));
    }
    return h;
  }

  @Test
  void windowsAreTheHandCutOnesInHashOrder() throws IOException {
    // 3 sensors × 7 rows, T = 3, stride 3, next-step targets (K = 1): windows at t = 0 and 3 (6 = last row)
    Path out = tmp.resolve("ds");
    Manifest m = SequenceTables.prep(sensors(3, 7), spec(3, 0, 4, 0, TableSpec.SplitMode.BY_KEY, false), out.toString());
    assertEquals(6, m.sequences(Split.TRAIN));
    assertEquals(2, m.shards().size()); // 4 + 2
    assertEquals(2, m.spec().features());
    assertEquals(2, m.spec().outputs());
    String summary = io.sparkrnn.data.Dataset.inspect(out.toUri(), TestFiles.localConf()).summary();
    assertTrue(summary.contains("source    format = test") && summary.contains("source    key = [sensor]")
        && summary.contains("source    order = t"), summary);
    Map<String, Long> h = hashes(3, 7);
    List<String> order = new ArrayList<>(h.keySet());
    order.sort(Comparator.comparing(h::get));
    int b = 0;
    Batch[] batches = {shard(out, m, m.shards().get(0)), shard(out, m, m.shards().get(1))};
    for (String key : order) {
      int k = key.charAt(1) - '0';
      for (int start : new int[] {0, 3}) {
        Batch batch = batches[b / 4];
        int col = b % 4;
        for (int t = 0; t < 3; t++) {
          assertEquals(100.0f * k + start + t, batch.x()[batch.xAt(t, col, 0)], key + " start " + start + " t " + t);
          assertEquals(-(start + t), batch.x()[batch.xAt(t, col, 1)], 0f);
          // target = the next row's (a, b)
          int B = batch.batchSize();
          assertEquals(100.0f * k + start + t + 1, batch.targets()[(t * B + col) * 2], key + " target");
        }
        b++;
      }
    }
  }

  /**
   * The default horizon (1 when a target is an input, else 0) follows the columns as Spark resolves
   * the names: by default "A" is the column "a" (forecasting, K = 1); with spark.sql.caseSensitive
   * "x" and "X" are two columns, and a target "X" beside an input "x" is a label on its row (K = 0;
   * the names, compared ignoring case, made it 1).
   */
  @Test
  void theDefaultHorizonFollowsTheResolvedColumnsNotTheNamesCase() throws IOException {
    TableSpec forecast = new TableSpec(List.of("sensor"), "t", List.of("a"), List.of("A"), 0, false, 3, 0, -1, 0, null,
        TableSpec.SplitMode.BY_KEY, 0, 0, false, TableSpec.Missing.ERROR, 8, 7, 0, Map.of("format", "test"));
    Manifest m = SequenceTables.prep(sensors(1, 7), forecast, tmp.resolve("same").toString());
    assertEquals(1L, m.spec().source().get("horizon"));
    Batch b = shard(tmp.resolve("same"), m, m.shards().get(0));
    assertEquals(1f, b.targets()[0], "the next row's a (a = t for sensor 0)");

    StructType twoCases = new StructType(new StructField[] {
        DataTypes.createStructField("sensor", DataTypes.StringType, true),
        DataTypes.createStructField("t", DataTypes.LongType, true),
        DataTypes.createStructField("x", DataTypes.DoubleType, true),
        DataTypes.createStructField("X", DataTypes.DoubleType, true)});
    List<Row> rows = new ArrayList<>();
    for (long t = 0; t < 6; t++) {
      rows.add(RowFactory.create("s0", t, (double) t, 10.0 + t));   // X is a label of row t: 10 + t
    }
    spark.conf().set("spark.sql.caseSensitive", "true");
    try {
      TableSpec labels = new TableSpec(List.of("sensor"), "t", List.of("x"), List.of("X"), 0, false, 3, 0, -1, 0, null,
          TableSpec.SplitMode.BY_KEY, 0, 0, false, TableSpec.Missing.ERROR, 8, 7, 0, Map.of("format", "test"));
      Manifest two = SequenceTables.prep(spark.createDataFrame(rows, twoCases), labels, tmp.resolve("two").toString());
      assertEquals(0L, two.spec().source().get("horizon"));
      assertEquals(2, two.sequences(Split.TRAIN), "windows at t = 0 and 3 of 6 rows (with K = 1 there was one)");
      Batch w = shard(tmp.resolve("two"), two, two.shards().get(0));
      for (int t = 0; t < 3; t++) {
        float x = w.x()[w.xAt(t, 0, 0)];
        assertEquals(10f + x, w.targets()[t * w.batchSize()], "the target is X of the input's own row, t = " + t);
      }
    } finally {
      spark.conf().unset("spark.sql.caseSensitive");
    }
  }

  /**
   * Keys equal as Spark groups them are one series: binary keys by their bytes (they were compared
   * by identity, so every second row looked like another key with the same hash: a "collision"),
   * and a double key's -0.0 and 0.0 (Spark's hash and grouping take them as one; the bits differ),
   * also inside a struct or an array key (those were compared by their bytes).
   * A key whose collation calls other strings equal (UTF8_LCASE) is refused: prep would cut by bytes.
   * Each prep must cut what the plain string key cuts: the same windows, the same shard bytes.
   */
  @Test
  void binaryKeysAndSignedZerosAreOneSeriesEachAndACollatedKeyIsRefused() throws IOException {
    Dataset<Row> plain = sensors(3, 7);
    Manifest expected = SequenceTables.prep(plain, spec(3, 0, 4, 0, TableSpec.SplitMode.BY_KEY, false),
        tmp.resolve("keys-plain").toString());
    Dataset<Row> binary = plain.withColumn("sensor", org.apache.spark.sql.functions.expr("cast(sensor AS binary)"));
    Manifest m = SequenceTables.prep(binary, spec(3, 0, 4, 0, TableSpec.SplitMode.BY_KEY, false), tmp.resolve("keys-binary").toString());
    assertEquals(expected.sequences(Split.TRAIN), m.sequences(Split.TRAIN), "binary keys: windows");
    // s0's rows alternate -0.0 and 0.0; s1, s2 are 1.0 and 2.0
    Dataset<Row> signed = plain.withColumn("kd", org.apache.spark.sql.functions.expr("CASE WHEN sensor = 's0' THEN (CASE WHEN t % 2 = 0"
        + " THEN cast('-0.0' AS double) ELSE 0.0D END) ELSE cast(substr(sensor, 2) AS double) END"));
    assertEquals(2, signed.where("kd = 0.0 AND sensor = 's0'").select(org.apache.spark.sql.functions.expr("cast(kd AS string)"))
        .distinct().count(), "the table holds both zeros");
    TableSpec byKd = new TableSpec(List.of("kd"), "t", List.of("a", "b"), List.of(), 0, false, 3, 0, -1, 0, null,
        TableSpec.SplitMode.BY_KEY, 0, 0, false, TableSpec.Missing.ERROR, 4, 7, 0, Map.of("format", "test"));
    Manifest z = SequenceTables.prep(signed, byKd, tmp.resolve("keys-zeros").toString());
    assertEquals(expected.sequences(Split.TRAIN), z.sequences(Split.TRAIN), "-0.0 and 0.0: one series");
    for (String nested : new String[] {"named_struct('k', kd, 'f', cast(kd AS float), 'n', 1)", "array(kd, 1.0D)"}) {
      Dataset<Row> keyed = signed.withColumn("nk", org.apache.spark.sql.functions.expr(nested));
      assertEquals(3, keyed.groupBy("nk").count().count(), "Spark's grouping of " + nested + ": three keys");
      TableSpec byNested = new TableSpec(List.of("nk"), "t", List.of("a", "b"), List.of(), 0, false, 3, 0, -1, 0, null,
          TableSpec.SplitMode.BY_KEY, 0, 0, false, TableSpec.Missing.ERROR, 4, 7, 0, Map.of("format", "test"));
      Manifest n = SequenceTables.prep(keyed, byNested, tmp.resolve("keys-nested-" + nested.charAt(0)).toString());
      assertEquals(expected.sequences(Split.TRAIN), n.sequences(Split.TRAIN), "-0.0 and 0.0 in " + nested + ": one series");
    }
    // a collated key: under UTF8_LCASE "S0" and "s0" are one key, as Spark groups and hashes them
    Dataset<Row> cased = plain.withColumn("sensor", org.apache.spark.sql.functions.expr("collate(CASE WHEN t % 2 = 0 THEN"
        + " upper(sensor) ELSE sensor END, 'UTF8_LCASE')"));
    assertEquals(3, cased.select("sensor").distinct().count(), "Spark's grouping: three keys");
    // prep takes keys by their bytes, and cut each into two series of every other hour: refused, saying what to do
    Exception e = assertThrows(io.sparkrnn.kernel.BadInputException.class, () -> SequenceTables.prep(cased,
        spec(3, 0, 4, 0, TableSpec.SplitMode.BY_KEY, false), tmp.resolve("keys-collated").toString()));
    assertTrue(e.getMessage().startsWith("--key: column 'sensor' is string collate UTF8_LCASE, whose collation calls different"
        + " strings equal"), e.getMessage());
  }

  /** A float key's -0.0 and 0.0 are one series too, as a double key's (a mutation audit: untested). */
  @Test
  void aFloatKeysSignedZerosAreOneSeries() throws IOException {
    Dataset<Row> plain = sensors(3, 7);
    Manifest expected = SequenceTables.prep(plain, spec(3, 0, 4, 0, TableSpec.SplitMode.BY_KEY, false), tmp.resolve("fp").toString());
    Dataset<Row> signed = plain.withColumn("kf", org.apache.spark.sql.functions.expr("cast(CASE WHEN sensor = 's0' THEN (CASE WHEN"
        + " t % 2 = 0 THEN cast('-0.0' AS double) ELSE 0.0D END) ELSE cast(substr(sensor, 2) AS double) END AS float)"));
    TableSpec byKf = new TableSpec(List.of("kf"), "t", List.of("a", "b"), List.of(), 0, false, 3, 0, -1, 0, null,
        TableSpec.SplitMode.BY_KEY, 0, 0, false, TableSpec.Missing.ERROR, 4, 7, 0, Map.of("format", "test"));
    Manifest z = SequenceTables.prep(signed, byKf, tmp.resolve("fz").toString());
    assertEquals(expected.sequences(Split.TRAIN), z.sequences(Split.TRAIN), "float -0.0 and 0.0: one series");
  }

  /** A binary key in a message reads as Dataset.show writes it, [73 30] (a mutation audit: untested). */
  @Test
  void aBinaryKeyIsShownAsItsBytesInMessages() {
    List<Row> dup = List.of(RowFactory.create("s0", 3L, 9.0, 9.0));
    Dataset<Row> table = sensors(2, 7).union(spark.createDataFrame(dup, LONG))
        .withColumn("sensor", org.apache.spark.sql.functions.expr("cast(sensor AS binary)"));
    assertPrepRefused(tmp, table, spec(3, 0, 4, 0, TableSpec.SplitMode.BY_KEY, false), "duplicate (key, order) pair at key"
        + " (sensor=[73 30]), t=3");
  }

  /** A collated string inside an array key is refused as one at the top level (a mutation audit: untested). */
  @Test
  void aNestedCollatedKeyIsRefused() {
    Dataset<Row> cased = sensors(3, 7).withColumn("ks", org.apache.spark.sql.functions.expr("array(collate(CASE WHEN t % 2 = 0 THEN"
        + " upper(sensor) ELSE sensor END, 'UTF8_LCASE'))"));
    TableSpec byKs = new TableSpec(List.of("ks"), "t", List.of("a", "b"), List.of(), 0, false, 3, 0, -1, 0, null,
        TableSpec.SplitMode.BY_KEY, 0, 0, false, TableSpec.Missing.ERROR, 4, 7, 0, Map.of("format", "test"));
    Exception e = assertThrows(io.sparkrnn.kernel.BadInputException.class, () -> SequenceTables.prep(cased, byKs,
        tmp.resolve("keys-collated-array").toString()));
    assertTrue(e.getMessage().startsWith("--key: column 'ks' is array<string collate UTF8_LCASE>, whose collation"), e.getMessage());
  }

  /** A column twice among the inputs, or the key or order column among them, is refused naming it (a user audit). */
  @Test
  void aValueColumnNamedTwiceOrThatIsTheKeyOrOrderIsRefused() {
    for (String[] bad : new String[][] {{"sensor", "a,A", "--inputs: names column 'a' twice"}, {"b", "a,b", "--inputs: column 'b' is"
        + " the --key column"}, {"sensor", "t,b", "--inputs: column 't' is the --order column"}}) {
      TableSpec s = new TableSpec(List.of(bad[0]), "t", List.of(bad[1].split(",")), List.of(), 0, false, 3, 0, -1, 0, null,
          TableSpec.SplitMode.BY_KEY, 0, 0, false, TableSpec.Missing.ERROR, 4, 7, 0, Map.of("format", "test"));
      Exception e = assertThrows(io.sparkrnn.kernel.BadInputException.class, () -> SequenceTables.prep(sensors(2, 5), s,
          tmp.resolve("bad-values").toString()));
      assertTrue(e.getMessage().startsWith(bad[2]), e.getMessage());
    }
    // and among the targets (a mutation audit: their check could be dropped unnoticed)
    for (String[] bad : new String[][] {{"sensor", "b,b", "--targets: names column 'b' twice"}, {"sensor", "a,t", "--targets: column"
        + " 't' is the --order column"}, {"b", "b", "--targets: column 'b' is the --key column"}}) {
      TableSpec s = new TableSpec(List.of(bad[0]), "t", List.of("a"), List.of(bad[1].split(",")), 0, false, 3, 0, -1, 0, null,
          TableSpec.SplitMode.BY_KEY, 0, 0, false, TableSpec.Missing.ERROR, 4, 7, 0, Map.of("format", "test"));
      Exception e = assertThrows(io.sparkrnn.kernel.BadInputException.class, () -> SequenceTables.prep(sensors(2, 5), s,
          tmp.resolve("bad-targets").toString()));
      assertTrue(e.getMessage().startsWith(bad[2]), e.getMessage());
    }
    // the order column among the keys: every row its own series, or rows of one time a duplicate pair (a user audit)
    TableSpec keyedByTime = new TableSpec(List.of("sensor", "T"), "t", List.of("a"), List.of(), 0, false, 3, 0, -1, 0, null,
        TableSpec.SplitMode.BY_KEY, 0, 0, false, TableSpec.Missing.ERROR, 4, 7, 0, Map.of("format", "test"));
    Exception e = assertThrows(io.sparkrnn.kernel.BadInputException.class, () -> SequenceTables.prep(sensors(2, 5), keyedByTime,
        tmp.resolve("keyed-by-time").toString()));
    assertTrue(e.getMessage().startsWith("--key: column 't' is also the --order column; a series' time is not its key"),
        e.getMessage());
  }

  /** A key too short for one window is left out, counted, and said so in a WARN line (it was left out silently). */
  @Test
  void seriesTooShortForAWindowAreCountedAndWarnedOf() throws IOException {
    List<Row> shortKey = List.of(RowFactory.create("short", 0L, 1.0, 2.0), RowFactory.create("short", 1L, 1.5, 2.5));
    Dataset<Row> table = sensors(3, 7).union(spark.createDataFrame(shortKey, LONG));
    Manifest m;
    List<String> warnings;
    try (LogCapture log = LogCapture.warnings(SequenceTables.class)) {
      m = SequenceTables.prep(table, spec(3, 0, 4, 0, TableSpec.SplitMode.BY_KEY, false), tmp.resolve("short").toString());
      warnings = log.messages();
    }
    assertEquals(6, m.sequences(Split.TRAIN), "the three long keys' windows, none of the short one's");
    assertEquals(1L, ((Number) ((Map<?, ?>) m.spec().source().get("counts")).get("series_without_windows")).longValue());
    assertEquals(List.of("prep table: 1 of 4 series are too short for one window (T = 3 steps, or --min-steps (setMinSteps)) and are left"
        + " out (source.counts.series_without_windows in the manifest)"), warnings);
  }

  /**
   * A series with a missing time (here t = 3 of s1; or a table sampled at random, as a
   * CrossValidator fold is) is counted as uneven and warned of: its windows span a 2-step gap as if
   * it were one step, and nothing said so (a user audit: CrossValidator's folds trained on such
   * series unwarned). Regular series, and a one-step key, are not counted.
   */
  @Test
  void seriesWithMissingTimesAreCountedAndWarnedOf() throws IOException {
    Dataset<Row> table = sensors(3, 7).where("NOT (sensor = 's1' AND t = 3)");
    Manifest m;
    List<String> warnings;
    try (LogCapture log = LogCapture.warnings(SequenceTables.class)) {
      m = SequenceTables.prep(table, spec(3, 0, 4, 0, TableSpec.SplitMode.BY_KEY, false), tmp.resolve("gappy").toString());
      warnings = log.messages();
    }
    assertEquals(1L, ((Number) ((Map<?, ?>) m.spec().source().get("counts")).get("series_uneven")).longValue());
    assertEquals(1, warnings.size(), warnings.toString());
    assertTrue(warnings.get(0).startsWith("prep table: 1 of 3 series have uneven time steps (the largest over 1.5 x their"
        + " smallest; source.counts.series_uneven in the manifest)"), warnings.get(0));
    assertTrue(warnings.get(0).endsWith("for model selection, give CrossValidator folds of whole keys (setFoldCol;"
        + " TrainValidationSplit cannot keep series whole: docs/ml.md \"Model selection\")"), warnings.get(0));
    try (LogCapture log = LogCapture.warnings(SequenceTables.class)) {
      m = SequenceTables.prep(sensors(3, 7), spec(3, 0, 4, 0, TableSpec.SplitMode.BY_KEY, false), tmp.resolve("even").toString());
      warnings = log.messages();
    }
    assertEquals(0L, ((Number) ((Map<?, ?>) m.spec().source().get("counts")).get("series_uneven")).longValue());
    assertEquals(List.of(), warnings);
  }

  /** prep table --overwrite keeps the old dataset when the new table's data is refused (found in pass 2's rows too). */
  @Test
  void overwriteKeepsTheOldDatasetWhenTheNewTableIsRefused() throws IOException {
    Path out = tmp.resolve("kept");
    TableSpec s = spec(3, 0, 4, 0, TableSpec.SplitMode.BY_KEY, false);
    Manifest old = SequenceTables.prep(sensors(3, 7), s, out.toString());
    byte[] manifest = Files.readAllBytes(out.resolve(Manifest.FILE_NAME));
    // a NaN inside a window of a long series: found when pass 2 cuts it, after the output was prepared
    List<Row> rows = new ArrayList<>();
    for (Row r : sensors(3, 7).collectAsList()) {
      rows.add(r.getString(0).equals("s1") && r.getLong(1) == 4 ? RowFactory.create("s1", 4L, Double.NaN, -4.0) : r);
    }
    assertThrows(IllegalArgumentException.class,
        () -> SequenceTables.prep(spark.createDataFrame(rows, LONG), s, out.toString(), true));
    assertArrayEquals(manifest, Files.readAllBytes(out.resolve(Manifest.FILE_NAME)));
    assertEquals(old, io.sparkrnn.data.Dataset.open(out.toUri(), TestFiles.localConf()).manifest());
    assertTrue(io.sparkrnn.data.Dataset.inspect(out.toUri(), TestFiles.localConf()).ok(), "the old shards intact");
    // and a good one replaces it, leaving nothing beside it
    Manifest replaced = SequenceTables.prep(sensors(4, 7), s, out.toString(), true);
    assertEquals(8, replaced.sequences(Split.TRAIN));
    try (Stream<Path> beside = Files.list(tmp)) {
      assertEquals(List.of(), beside.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".kept.")).toList());
    }
  }

  @Test
  void sameBytesForAnyInputPartitioningAndBucketCount() throws IOException {
    Dataset<Row> table = sensors(23, 40);
    List<Dataset<Row>> layouts = List.of(table.repartition(1), table.repartition(7), table.orderBy("a"));
    String reference = null;
    Map<String, byte[]> referenceShards = null;
    int run = 0;
    for (Dataset<Row> t : layouts) {
      for (int buckets : new int[] {1, 4}) {
        TableSpec s = new TableSpec(List.of("sensor"), "t", List.of("a", "b"), List.of(), 0, false, 5, 3, -1, 2,
            null, TableSpec.SplitMode.BY_KEY, 0.2, 0, true, TableSpec.Missing.ERROR, 8, 11, buckets, Map.of());
        Path out = tmp.resolve("run" + run++);
        Manifest m = SequenceTables.prep(t, s, out.toString());
        String manifest = Files.readString(out.resolve(Manifest.FILE_NAME));
        Map<String, byte[]> shards = new HashMap<>();
        for (ShardInfo si : m.shards()) {
          shards.put(si.file(), Files.readAllBytes(out.resolve(si.file())));
        }
        if (reference == null) {
          reference = manifest;
          referenceShards = shards;
          assertTrue(m.sequences(Split.VALIDATION) > 0, "some sensors in validation");
          assertTrue(m.shards().size() > 4, "several shards, some straddling buckets");
        } else {
          assertEquals(reference, manifest, "manifest of run " + run);
          for (Map.Entry<String, byte[]> e : referenceShards.entrySet()) {
            assertArrayEquals(e.getValue(), shards.get(e.getKey()), e.getKey() + " of run " + run);
          }
        }
      }
    }
  }

  @Test
  void byTimeSplitLeavesTheGapOutAndNeverCrossesTheBoundary() throws IOException {
    // one unkeyed series of 100 rows: validation = last 20 rows (t >= 80), gap 5: validation inputs from t = 85
    TableSpec s = new TableSpec(List.of(), "t", List.of("a"), List.of(), 0, false, 4, 1, -1, 0, null, null, 0.2, 5,
        false, TableSpec.Missing.ERROR, 1000, 1, 0, Map.of());
    Path out = tmp.resolve("bytime");
    Manifest m = SequenceTables.prep(ramp(100), s, out.toString());
    assertEquals(0L, ((Map<?, ?>) m.spec().source().get("counts")).get("series_uneven"), "the split's gap is no window's step");
    // train: windows whose last target row s+4 < 80 -> s = 0..75 (76); validation rows 85..99: s = 85..95 (11)
    assertEquals(76, m.sequences(Split.TRAIN));
    assertEquals(11, m.sequences(Split.VALIDATION));
    Batch val = shard(out, m, m.shards(Split.VALIDATION).get(0));
    float min = Float.MAX_VALUE;
    for (float v : val.x()) {
      min = Math.min(min, v);
    }
    assertEquals(85f, min);
    Batch train = shard(out, m, m.shards(Split.TRAIN).get(0));
    float max = 0;
    for (float v : train.targets()) {
      max = Math.max(max, v);
    }
    assertEquals(79f, max, "the last training target is the last row before the boundary");
  }

  @Test
  void normalisationIsTheWindowsMomentsAndScalesTheShards() throws IOException {
    Path out = tmp.resolve("norm");
    // one sensor, 7 rows, T = 3, stride 3: training windows hold a = 0,1,2 and 3,4,5 (valid steps)
    Manifest m = SequenceTables.prep(sensors(1, 7), spec(3, 0, 4, 0, TableSpec.SplitMode.BY_KEY, true), out.toString());
    double mean = 2.5;
    double std = Math.sqrt((2.5 * 2.5 + 1.5 * 1.5 + 0.5 * 0.5) * 2 / 6);
    assertEquals(mean, m.normalization().inputMean()[0], 1e-12);
    assertEquals(std, m.normalization().inputStd()[0], 1e-12);
    // targets are a = 1..6: mean 3.5, same spread
    assertEquals(3.5, m.normalization().targetMean()[0], 1e-12);
    Batch b = shard(out, m, m.shards().get(0));
    assertEquals((float) ((0 - mean) / std), b.x()[b.xAt(0, 0, 0)], 1e-6f);
  }

  /** One unkeyed series t = 0..rows-1 with a = t; b = 0. */
  private static Dataset<Row> ramp(int rows) {
    List<Row> list = new ArrayList<>();
    for (int t = 0; t < rows; t++) {
      list.add(RowFactory.create("only", (long) t, (double) t, 0.0));
    }
    return spark.createDataFrame(list, LONG);
  }

  /** Input a alone, next-step targets (K = 1), split by time (no key), error on missing values. */
  private static TableSpec byTime(int steps, int stride, int minSteps, double fraction, boolean normalize) {
    return new TableSpec(List.of(), "t", List.of("a"), List.of(), 0, false, steps, stride, -1, minSteps, null, null, fraction, 0,
        normalize, TableSpec.Missing.ERROR, 1000, 1, 0, Map.of());
  }

  /** Every valid (t, b) input value of a split's shards, sorted. */
  private static float[] inputs(Path dir, Manifest m, Split split) throws IOException {
    List<Float> v = new ArrayList<>();
    for (ShardInfo s : m.shards(split)) {
      Batch b = shard(dir, m, s);
      for (int i = 0; i < b.batchSize(); i++) {
        for (int t = 0; t < b.length(i); t++) {
          v.add(b.x()[b.xAt(t, i, 0)]);
        }
      }
    }
    float[] out = new float[v.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = v.get(i);
    }
    Arrays.sort(out);
    return out;
  }

  @Test
  void statisticsComeFromTheTrainingSplitAloneAndScaleTheValidationShardsToo() throws IOException {
    // a = t, t = 0..9, by time with fraction 0.5: validation rows t >= round(5) = 5. T = 2, stride 2, K = 1:
    // training windows x {0,1}, {2,3} (targets {1,2}, {3,4}); validation x {5,6}, {7,8} (targets {6,7}, {8,9}).
    // Input statistics of the training windows alone: mean 1.5, variance (1.5² + 0.5²)·2 / 4 = 1.25;
    // targets mean 2.5. Over all four windows the mean would be 4.0.
    Path out = tmp.resolve("train-stats");
    Manifest m = SequenceTables.prep(ramp(10), byTime(2, 2, 0, 0.5, true), out.toString());
    assertEquals(2, m.sequences(Split.TRAIN));
    assertEquals(2, m.sequences(Split.VALIDATION));
    double std = Math.sqrt(1.25);
    assertEquals(1.5, m.normalization().inputMean()[0], 1e-12);
    assertEquals(std, m.normalization().inputStd()[0], 1e-12);
    assertEquals(2.5, m.normalization().targetMean()[0], 1e-12);
    // the validation shards are stored in the same (training) units: (5 − 1.5) / √1.25 ≈ 3.1305 first
    float[] expected = new float[4];
    for (int i = 0; i < 4; i++) {
      expected[i] = (float) ((5 + i - 1.5) / std);
    }
    assertArrayEquals(expected, inputs(out, m, Split.VALIDATION), 1e-6f);
  }

  @Test
  void statisticsCountValidStepsOnlyNotPadding() throws IOException {
    // a = t, t = 0..5, T = 4, stride 4, K = 1, min-steps 1, no validation: windows x {0,1,2,3} and a
    // padded {4} (L = 1; its target is row 5). Valid inputs 0..4: mean 2, variance (4+1+0+1+4)/5 = 2;
    // targets 1..5: mean 3. Counting the three padded zeros would give mean 10/8 = 1.25.
    Manifest m = SequenceTables.prep(ramp(6), byTime(4, 4, 1, 0, true), tmp.resolve("padded-stats").toString());
    assertEquals(1L, ((Map<?, ?>) m.spec().source().get("counts")).get("padded_windows"));
    assertEquals(2.0, m.normalization().inputMean()[0], 1e-12);
    assertEquals(Math.sqrt(2), m.normalization().inputStd()[0], 1e-12);
    assertEquals(3.0, m.normalization().targetMean()[0], 1e-12);
  }

  @Test
  void theByTimeBoundaryRoundsTheValidationShare() throws IOException {
    // 10 rows, fraction 0.25: round(2.5) = 3 validation rows (t = 7, 8, 9), boundary 7.
    // T = 2, stride 1, K = 1: training starts s with s + 2 <= 6, s = 0..4 (5); validation s = 7 (1).
    // (floor would give 2 rows: 6 training windows and none to validate on)
    Manifest m = SequenceTables.prep(ramp(10), byTime(2, 1, 0, 0.25, false), tmp.resolve("round").toString());
    assertEquals(5, m.sequences(Split.TRAIN));
    assertEquals(1, m.sequences(Split.VALIDATION));
    assertArrayEquals(new float[] {7, 8}, inputs(tmp.resolve("round"), m, Split.VALIDATION));
  }

  @Test
  void forwardFillDropsALeadingGapOfEachSeries() throws IOException {
    // two keys whose first row (t = 0) has no a: nothing earlier to fill from, so it is dropped, also
    // for the second key (nothing carried over from the first). Rows t = 1..5 remain: a = 100k + t.
    // T = 2, stride 2, K = 1: windows x {1,2} and {3,4} per key.
    List<Row> rows = new ArrayList<>();
    for (int k = 0; k < 2; k++) {
      for (int t = 0; t < 6; t++) {
        rows.add(RowFactory.create("s" + k, (long) t, t == 0 ? null : 100.0 * k + t, 1.0));
      }
    }
    TableSpec ffill = new TableSpec(List.of("sensor"), "t", List.of("a"), List.of(), 0, false, 2, 2, -1, 0, null,
        TableSpec.SplitMode.BY_KEY, 0, 0, false, TableSpec.Missing.FFILL, 8, 7, 1, Map.of());
    Path out = tmp.resolve("ffill-leading");
    Manifest m = SequenceTables.prep(spark.createDataFrame(rows, LONG).coalesce(1), ffill, out.toString());
    Map<?, ?> counts = (Map<?, ?>) m.spec().source().get("counts");
    assertEquals(2L, counts.get("rows_dropped"), counts.toString());
    assertEquals(0L, counts.get("rows_filled"), counts.toString());
    assertEquals(4, m.sequences(Split.TRAIN));
    assertArrayEquals(new float[] {1, 2, 3, 4, 101, 102, 103, 104}, inputs(out, m, Split.TRAIN));
  }

  @Test
  void byKeyValidationTakesAboutTheFractionOfKeysAndGrowsWithIt() throws IOException {
    // 200 keys × 3 rows, T = 2, K = 1: one window per key, a = 100k + t, so a window's first input names its key.
    // Fraction 0.2 of 200 keys: 40 expected, binomial sd √(200·0.2·0.8) ≈ 5.7, so [23, 57] is ±3 sd.
    // A larger fraction keeps every key a smaller one put in validation (the same seeded hash, a wider cut).
    Set<Integer> at20 = validationKeys(0.2, "keys-20");
    Set<Integer> at30 = validationKeys(0.3, "keys-30");
    assertTrue(at20.size() >= 23 && at20.size() <= 57, "validation keys at 0.2: " + at20.size());
    assertTrue(at30.size() >= 40 && at30.size() <= 80, "validation keys at 0.3: " + at30.size());
    assertTrue(at30.containsAll(at20), "0.3's validation keys hold 0.2's");
  }

  private Set<Integer> validationKeys(double fraction, String name) throws IOException {
    Path out = tmp.resolve(name);
    Manifest m = SequenceTables.prep(sensors(200, 3), spec(2, 0, 64, fraction, TableSpec.SplitMode.BY_KEY, false), out.toString());
    assertEquals(200, m.sequences(Split.TRAIN) + m.sequences(Split.VALIDATION));
    Set<Integer> keys = new HashSet<>();
    for (ShardInfo s : m.shards(Split.VALIDATION)) {
      Batch b = shard(out, m, s);
      for (int i = 0; i < b.batchSize(); i++) {
        keys.add((int) (b.x()[b.xAt(0, i, 0)] / 100));
      }
    }
    assertEquals(m.sequences(Split.VALIDATION), keys.size());
    return keys;
  }

  @Test
  void missingValuesStopWithColumnKeyAndTimeOrAreDroppedOrFilled() throws IOException {
    List<Row> rows = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      rows.add(RowFactory.create("s0", (long) t, t == 4 ? null : (double) t, 1.0));
    }
    Dataset<Row> table = spark.createDataFrame(rows, LONG);
    Path out = tmp.resolve("missing");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SequenceTables.prep(table, spec(2, 0, 4, 0, TableSpec.SplitMode.BY_KEY, false), out.toString()));
    assertTrue(e.getMessage().contains("column 'a'") && e.getMessage().contains("sensor=s0")
        && e.getMessage().contains("t=4"), e.getMessage());
    assertFalse(Files.exists(out), "nothing written");

    TableSpec drop = new TableSpec(List.of("sensor"), "t", List.of("a"), List.of(), 0, false, 2, 0, -1, 0, null,
        TableSpec.SplitMode.BY_KEY, 0, 0, false, TableSpec.Missing.DROP, 4, 7, 0, Map.of());
    Manifest d = SequenceTables.prep(table, drop, tmp.resolve("drop").toString());
    // 7 rows left (0,1,2,3,5,6,7): windows at 0 (x 0,1 y 1,2) and 2 (x 2,3 y 3,5) and 4 (x 5,6 y 6,7)
    assertEquals(3, d.sequences(Split.TRAIN));
    Batch db = shard(tmp.resolve("drop"), d, d.shards().get(0));
    assertEquals(5f, db.targets()[1 * 3 + 1], "row 4 is gone: the target after t=3 is t=5's value");
    assertEquals(1L, ((Map<?, ?>) d.spec().source().get("counts")).get("rows_dropped"), "the one row without a");
    // and the windows step over it: an uneven series (counted on the rows kept, a review)
    assertEquals(1L, ((Map<?, ?>) d.spec().source().get("counts")).get("series_uneven"));

    TableSpec ffill = new TableSpec(List.of("sensor"), "t", List.of("a"), List.of(), 0, false, 2, 0, -1, 0, null,
        TableSpec.SplitMode.BY_KEY, 0, 0, false, TableSpec.Missing.FFILL, 4, 7, 0, Map.of());
    Manifest f = SequenceTables.prep(table, ffill, tmp.resolve("ffill").toString());
    Batch fb = shard(tmp.resolve("ffill"), f, f.shards().get(0));
    // windows at 0, 2, 4 (8 rows, K = 1: s + 2 <= 7); window 2's x = (4, 3.0 repeated)
    assertEquals(3f, fb.x()[fb.xAt(0, 2, 0)], "t=4 takes t=3's value");
    assertEquals(1L, ((Map<?, ?>) f.spec().source().get("counts")).get("rows_filled"));
    assertEquals(0L, ((Map<?, ?>) f.spec().source().get("counts")).get("series_uneven"), "filled: every step is one");
  }

  /** Every valid step's target value (O = 1, seq2seq) of a split's shards, sorted. */
  private static float[] targets(Path dir, Manifest m, Split split) throws IOException {
    List<Float> v = new ArrayList<>();
    for (ShardInfo s : m.shards(split)) {
      Batch b = shard(dir, m, s);
      for (int i = 0; i < b.batchSize(); i++) {
        for (int t = 0; t < b.length(i); t++) {
          v.add(b.targets()[t * b.batchSize() + i]);
        }
      }
    }
    float[] out = new float[v.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = v.get(i);
    }
    Arrays.sort(out);
    return out;
  }

  private static final StructType WIDE = new StructType(new StructField[] {
      DataTypes.createStructField("name", DataTypes.StringType, false),
      DataTypes.createStructField("seq", DataTypes.createArrayType(DataTypes.DoubleType, true), true)});

  /** A wide table of F = 1 sequences, next-step targets (K = 1), T = 2, stride 2. */
  private static TableSpec wide(TableSpec.SplitMode split, double fraction, TableSpec.Missing missing) {
    return new TableSpec(List.of("name"), null, List.of(), List.of(), 0, false, 2, 2, -1, 0, "seq", split, fraction, 0,
        false, missing, 8, 7, 1, Map.of());
  }

  @Test
  void wideMissingStepsAreFilledOrDroppedAndTheTargetsAreTheNextSteps() throws IOException {
    // x = [1, NaN, 3, 4, 5], y = [null, 2, 3, 4]; targets are the next step of the same array.
    // ffill: x → 1, 1, 3, 4, 5 (one filled); y's leading gap has nothing to repeat: dropped → 2, 3, 4.
    //   windows (s + T + K <= n): x s=0: x {1,1} y {1,3}; s=2: x {3,4} y {4,5}; y s=0: x {2,3} y {3,4}.
    // drop: x → 1, 3, 4, 5: s=0 x {1,3} y {3,4} (s=2 needs 5 steps); y as above.
    Dataset<Row> table = spark.createDataFrame(List.of(
        RowFactory.create("x", Arrays.asList(1.0, Double.NaN, 3.0, 4.0, 5.0)),
        RowFactory.create("y", Arrays.asList(null, 2.0, 3.0, 4.0))), WIDE);
    Path ff = tmp.resolve("wide-ffill");
    Manifest f = SequenceTables.prep(table, wide(TableSpec.SplitMode.BY_KEY, 0, TableSpec.Missing.FFILL), ff.toString());
    Map<?, ?> fc = (Map<?, ?>) f.spec().source().get("counts");
    assertEquals(1L, fc.get("rows_filled"), fc.toString());
    assertEquals(1L, fc.get("rows_dropped"), fc.toString());
    assertEquals(3, f.sequences(Split.TRAIN));
    assertArrayEquals(new float[] {1, 1, 2, 3, 3, 4}, inputs(ff, f, Split.TRAIN));
    assertArrayEquals(new float[] {1, 3, 3, 4, 4, 5}, targets(ff, f, Split.TRAIN));

    Path dr = tmp.resolve("wide-drop");
    Manifest d = SequenceTables.prep(table, wide(TableSpec.SplitMode.BY_KEY, 0, TableSpec.Missing.DROP), dr.toString());
    assertEquals(2L, ((Map<?, ?>) d.spec().source().get("counts")).get("rows_dropped"));
    assertEquals(2, d.sequences(Split.TRAIN));
    assertArrayEquals(new float[] {1, 2, 3, 3}, inputs(dr, d, Split.TRAIN));
    assertArrayEquals(new float[] {3, 3, 4, 4}, targets(dr, d, Split.TRAIN));
  }

  /**
   * A step past float32's range (1e39) in a wide array is a missing step, as NaN is (mutation audit
   * survivor T4: the old finite-as-double check passed every test): dropped, x = [1, 1e39, 3, 4, 5]
   * → 1, 3, 4, 5, whose one window (T = 2, K = 1) is x {1, 3}, y {3, 4}.
   */
  @Test
  void wideStepPastFloat32IsAMissingStep() throws IOException {
    Dataset<Row> table = spark.createDataFrame(List.of(RowFactory.create("x", Arrays.asList(1.0, 1e39, 3.0, 4.0, 5.0))), WIDE);
    Path dr = tmp.resolve("wide-past-float32");
    Manifest d = SequenceTables.prep(table, wide(TableSpec.SplitMode.BY_KEY, 0, TableSpec.Missing.DROP), dr.toString());
    assertEquals(1L, ((Map<?, ?>) d.spec().source().get("counts")).get("rows_dropped"));
    assertArrayEquals(new float[] {1, 3}, inputs(dr, d, Split.TRAIN));
    assertArrayEquals(new float[] {3, 4}, targets(dr, d, Split.TRAIN));
  }

  @Test
  void wideByTimeSplitTakesTheLastFractionOfEachArray() throws IOException {
    // one array of n = 10 steps v = 0..9, fraction 0.5: the last round(10 · 0.5) = 5 steps (5..9) validate.
    // T = 2, stride 2, K = 1: training s = 0, 2 (x {0,1}, {2,3}); validation steps 5..9: x {5,6}, {7,8}.
    List<Double> v = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      v.add((double) i);
    }
    Path out = tmp.resolve("wide-bytime");
    Manifest m = SequenceTables.prep(spark.createDataFrame(List.of(RowFactory.create("x", v)), WIDE),
        wide(TableSpec.SplitMode.BY_TIME, 0.5, TableSpec.Missing.ERROR), out.toString());
    assertEquals(2, m.sequences(Split.TRAIN));
    assertEquals(2, m.sequences(Split.VALIDATION));
    assertArrayEquals(new float[] {0, 1, 2, 3}, inputs(out, m, Split.TRAIN));
    assertArrayEquals(new float[] {1, 2, 3, 4}, targets(out, m, Split.TRAIN), "the last training target is step 4");
    assertArrayEquals(new float[] {5, 6, 7, 8}, inputs(out, m, Split.VALIDATION));
  }

  @Test
  void seq2oneNormalisationTakesEachWindowsOneTarget() throws IOException {
    // a = t, b = 10t, t = 0..6; target b (not an input: K = 0), seq2one, T = 2, stride 2: windows s = 0, 2, 4
    // (s = 6 has one step), y = b of row s + T − 1 = 10, 30, 50. Targets: mean 30, population variance
    // (20² + 0 + 20²) / 3 = 800/3. Inputs a = 0..5: mean 2.5, variance (2.5² + 1.5² + 0.5²)·2 / 6 = 35/12.
    List<Row> rows = new ArrayList<>();
    for (long t = 0; t < 7; t++) {
      rows.add(RowFactory.create("s0", t, (double) t, 10.0 * t));
    }
    TableSpec s = new TableSpec(List.of("sensor"), "t", List.of("a"), List.of("b"), 0, true, 2, 0, -1, 0, null,
        TableSpec.SplitMode.BY_KEY, 0, 0, true, TableSpec.Missing.ERROR, 4, 7, 0, Map.of());
    Path out = tmp.resolve("seq2one-norm");
    Manifest m = SequenceTables.prep(spark.createDataFrame(rows, LONG), s, out.toString());
    assertEquals(3, m.sequences(Split.TRAIN));
    assertEquals(2.5, m.normalization().inputMean()[0], 1e-12);
    assertEquals(Math.sqrt(35.0 / 12), m.normalization().inputStd()[0], 1e-12);
    assertEquals(30.0, m.normalization().targetMean()[0], 1e-12);
    assertEquals(Math.sqrt(800.0 / 3), m.normalization().targetStd()[0], 1e-12);
    float[] stored = shard(out, m, m.shards().get(0)).targets().clone();
    Arrays.sort(stored);
    float z = (float) (20 / Math.sqrt(800.0 / 3));
    assertArrayEquals(new float[] {-z, 0, z}, stored, 1e-6f);
  }

  @Test
  void classIdTargetsAreNeverNormalised() throws IOException {
    // docs/data-format.md: normalization's target fields only for mse; class ids stay ids
    List<Row> rows = new ArrayList<>();
    for (long t = 0; t < 6; t++) {
      rows.add(RowFactory.create("s0", t, (double) t, (double) (t % 3)));
    }
    TableSpec s = new TableSpec(List.of("sensor"), "t", List.of("a"), List.of("b"), 3, false, 2, 0, -1, 0, null,
        TableSpec.SplitMode.BY_KEY, 0, 0, true, TableSpec.Missing.ERROR, 4, 7, 0, Map.of());
    Path out = tmp.resolve("classes-norm");
    Manifest m = SequenceTables.prep(spark.createDataFrame(rows, LONG), s, out.toString());
    assertEquals(2.5, m.normalization().inputMean()[0], 1e-12, "a = 0..5");
    assertEquals(null, m.normalization().targetMean());
    assertEquals(null, m.normalization().targetStd());
    // windows s = 0, 2, 4, K = 0: ids of rows 0..5 = 0, 1, 2, 0, 1, 2
    int[] ids = shard(out, m, m.shards().get(0)).classes().clone();
    Arrays.sort(ids);
    assertArrayEquals(new int[] {0, 0, 1, 1, 2, 2}, ids);
  }

  /**
   * JobScope: prep tags its jobs beside the caller's tags and, when done, puts the caller's job
   * description back and takes its own tag off, so the caller's next jobs carry no stale label
   * and a cancel by the caller's tag still reaches them.
   */
  @Test
  void prepLeavesTheCallersJobDescriptionAndTagsAsTheyWere() throws IOException {
    JavaSparkContext sc =
        JavaSparkContext.fromSparkContext(spark.sparkContext());
    sc.setJobDescription("the caller's cell");
    sc.addJobTag("callers-cell");
    try {
      SequenceTables.prep(sensors(1, 7), spec(3, 0, 4, 0, TableSpec.SplitMode.BY_KEY, false), tmp.resolve("scope").toString());
      assertEquals("the caller's cell", sc.getLocalProperty("spark.job.description"));
      assertEquals(Set.of("callers-cell"), sc.getJobTags());
      assertEquals(null, sc.getLocalProperty("spark.job.interruptOnCancel"), "the caller had set none");
    } finally {
      sc.removeJobTag("callers-cell");
      sc.setLocalProperty("spark.job.description", null);
    }
  }

  /**
   * ExampleTables.sensors, per its comment: sensor k, hour h at 2024-01-01T00:00Z + h hours;
   * temp = base + A·sin(2πh/24 + φ) + 0.5·noise with A = 3 + 5u₁ < 8 and noise in [−½, ½), so
   * temp(h + 24) − temp(h) is within 0.5 (a daily cycle), temp(h) + temp(h + 12) is 2·base within 0.5
   * (half a day is half a period), and |temp − base| ≤ 8.25; load = 0.5 + 0.3·sin(…) + 0.02·(temp − base)
   * + 0.05·noise' is within 0.5 ± (0.3 + 0.165 + 0.025).
   */
  @Test
  void theExampleSensorTableIsHourlyWithADailyCycle() {
    List<Row> rows = ExampleTables.sensors(spark, 2, 48, 7).orderBy("sensor", "ts").collectAsList();
    assertEquals(96, rows.size());
    for (int k = 0; k < 2; k++) {
      double[] temp = new double[48];
      for (int h = 0; h < 48; h++) {
        Row r = rows.get(k * 48 + h);
        assertEquals(String.format("sensor-%05d", k), r.getString(0));
        assertEquals(Instant.parse("2024-01-01T00:00:00Z").plusSeconds(3600L * h), r.getTimestamp(1).toInstant());
        temp[h] = r.getDouble(2);
        assertTrue(temp[h] >= 15 - 8.25 && temp[h] <= 25 + 8.25, "temp " + temp[h]);
        assertTrue(Math.abs(r.getDouble(3) - 0.5) <= 0.49, "load " + r.getDouble(3));
      }
      for (int h = 0; h < 24; h++) {
        assertEquals(temp[h], temp[h + 24], 0.5, "sensor " + k + ", hour " + h + ": a daily cycle");
      }
      for (int h = 0; h < 12; h++) {
        assertEquals(temp[0] + temp[12], temp[h] + temp[h + 12], 1.0, "sensor " + k + ", hour " + h + ": half a period");
      }
    }
  }

  private void assertRefused(Dataset<Row> table, TableSpec s, String... fragments) {
    assertPrepRefused(tmp, table, s, fragments);
  }

  /** prep refuses the table with every fragment in its message, and writes nothing under dir. */
  static void assertPrepRefused(Path dir, Dataset<Row> table, TableSpec s, String... fragments) {
    Path out = dir.resolve("refused-" + System.nanoTime());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SequenceTables.prep(table, s, out.toString()));
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), () -> "'" + f + "' not in: " + e.getMessage());
    }
    assertFalse(Files.exists(out), "nothing written for a refused table");
  }

  @Test
  void badTablesAreRefusedNamingColumnKeyAndOrder() {
    TableSpec s = spec(2, 0, 4, 0, TableSpec.SplitMode.BY_KEY, false);
    List<Row> dup = new ArrayList<>(List.of(RowFactory.create("s0", 1L, 1.0, 1.0), RowFactory.create("s0", 1L, 2.0, 1.0),
        RowFactory.create("s0", 2L, 2.0, 1.0)));
    assertRefused(spark.createDataFrame(dup, LONG), s, "duplicate", "sensor=s0", "t=1");
    IllegalArgumentException keyed = assertThrows(IllegalArgumentException.class,
        () -> SequenceTables.prep(spark.createDataFrame(dup, LONG), s, tmp.resolve("dup-keyed").toString()));
    assertFalse(keyed.getMessage().contains("without --key"), keyed.getMessage());
    // two sensors' rows at the same times, read with no key as one series: the likely cause is a forgotten --key
    TableSpec keyless = new TableSpec(List.of(), "t", List.of("a"), List.of(), 0, false, 2, 1, -1, 0, null, null, 0.2, 0,
        false, TableSpec.Missing.ERROR, 4, 1, 0, Map.of());
    assertRefused(sensors(2, 5), keyless, "duplicate", "t=0", "without --key the whole table is one series",
        "tell them apart with --key");
    List<Row> nullOrder = List.of(RowFactory.create("s0", null, 1.0, 1.0), RowFactory.create("s0", 2L, 2.0, 1.0));
    assertRefused(spark.createDataFrame(nullOrder, LONG), s, "'t'", "null", "sensor=s0");
    List<Row> nan = List.of(RowFactory.create("s1", 1L, 1.0, Double.NaN), RowFactory.create("s1", 2L, 2.0, 1.0));
    assertRefused(spark.createDataFrame(nan, LONG), s, "column 'b'", "sensor=s1", "t=1");
    assertRefused(sensors(2, 5), new TableSpec(List.of("sensor"), "t", List.of("a", "nope"), List.of(), 0, false, 2, 0,
        -1, 0, null, null, 0, 0, false, null, 4, 7, 0, Map.of()), "--inputs", "'nope'", "not found", "[sensor, t, a, b]");
    // the same refusal as a type that carries its parts (prep table adds CSV hints from them, not from the text)
    MissingColumnException missing = assertThrows(MissingColumnException.class, () -> SequenceTables.prep(sensors(2, 5),
        new TableSpec(List.of("sensor"), "t", List.of("a"), List.of("nope"), 0, false, 2, 0, -1, 0, null, null, 0, 0,
            false, null, 4, 7, 0, Map.of()), tmp.resolve("missing-target").toString()));
    assertEquals(List.of("--targets", "nope", List.of("sensor", "t", "a", "b")),
        List.of(missing.option(), missing.column(), missing.tableColumns()));
    assertRefused(sensors(2, 5), new TableSpec(List.of(), "sensor", List.of("a"), List.of(), 0, false, 2, 0,
        -1, 0, null, null, 0, 0, false, null, 4, 7, 0, Map.of()), "--order", "'sensor'", "string");
    assertRefused(sensors(2, 5), new TableSpec(List.of("t"), "a", List.of("sensor"), List.of(), 0, false, 2, 0,
        -1, 0, null, null, 0, 0, false, null, 4, 7, 0, Map.of()), "--inputs", "'sensor'", "string");
    assertRefused(sensors(2, 5).where("a > 1e9"), s, "no rows");
    assertRefused(sensors(2, 3), spec(5, 0, 4, 0, TableSpec.SplitMode.BY_KEY, false), "no training sequences",
        "--min-steps");
  }

  @Test
  void classIdsOutOfRangeAreRefused() {
    List<Row> rows = new ArrayList<>();
    for (int t = 0; t < 6; t++) {
      rows.add(RowFactory.create("s0", (long) t, (double) t, t == 3 ? 5.0 : 1.0));
    }
    TableSpec s = new TableSpec(List.of("sensor"), "t", List.of("a"), List.of("b"), 3, true, 2, 0, -1, 0, null,
        TableSpec.SplitMode.BY_KEY, 0, 0, false, null, 4, 7, 0, Map.of());
    assertRefused(spark.createDataFrame(rows, LONG), s, "class id 5", "[0, 3)", "t=3");
  }

  /**
   * A wide row without keys is its own series, ordered by h = xxhash64(seed, row's sequence) as
   * Spark casts the column to doubles (docs/data-format.md: "hashes the row's contents"), computed
   * here in SQL beside the code under test. The decimals (r + 0.10, ...) are not float32 numbers: a
   * hash of their float32 roundings, which the shards hold, would order the rows otherwise (and
   * move them between splits) against the same table and seed before.
   */
  @Test
  void wideRowsWithoutKeysAreInTheOrderOfTheirDoublesHash() throws IOException {
    StructType wide = new StructType(new StructField[] {
        DataTypes.createStructField("seq", DataTypes.createArrayType(DataTypes.createDecimalType(10, 2)), true)});
    List<Row> rows = new ArrayList<>();
    for (int r = 0; r < 8; r++) {
      java.math.BigDecimal base = java.math.BigDecimal.valueOf(r);
      rows.add(RowFactory.create(List.of(base.add(new java.math.BigDecimal("0.10")), base.add(new java.math.BigDecimal("0.20")),
          base.add(new java.math.BigDecimal("0.30")))));
    }
    Dataset<Row> table = spark.createDataFrame(rows, wide);
    List<Row> hashed = table.selectExpr("cast(seq[0] as double) as first",
        "xxhash64(cast(7 as bigint), cast(seq as array<double>)) as h").collectAsList();
    List<Row> sorted = new ArrayList<>(hashed);
    sorted.sort(Comparator.comparingLong(h -> h.getLong(1)));
    float[] expected = new float[8];
    for (int i = 0; i < 8; i++) {
      expected[i] = (float) sorted.get(i).getDouble(0);
    }
    TableSpec ws = new TableSpec(List.of(), null, List.of(), List.of(), 0, false, 2, 0, -1, 0, "seq",
        TableSpec.SplitMode.BY_KEY, 0, 0, false, null, 8, 7, 0, Map.of());
    Path out = tmp.resolve("wide-no-key");
    Manifest m = SequenceTables.prep(table, ws, out.toString());
    assertEquals(8, m.sequences(Split.TRAIN));
    Batch b = shard(out, m, m.shards().get(0));
    float[] first = new float[8];
    for (int i = 0; i < 8; i++) {
      first[i] = b.x()[i];   // x is [T][B][F]: t = 0, F = 1, each sequence's first input
    }
    assertArrayEquals(expected, first, "sequences in xxhash64 order of the rows as doubles");
  }

  @Test
  void arrayAndVectorColumnsExpandAndWideRowsAreSequences() throws IOException {
    StructType schema = new StructType(new StructField[] {
        DataTypes.createStructField("id", DataTypes.IntegerType, false),
        DataTypes.createStructField("t", DataTypes.TimestampType, false),
        DataTypes.createStructField("arr", DataTypes.createArrayType(DataTypes.FloatType), true),
        DataTypes.createStructField("vec", SQLDataTypes.VectorType(), true)});
    List<Row> rows = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      rows.add(RowFactory.create(1, new Timestamp(1_700_000_000_000L + t * 60_000L), List.of((float) t, 10f + t),
          t % 2 == 0 ? Vectors.dense(100 + t, 200 + t, 300 + t) : Vectors.sparse(3, new int[] {1}, new double[] {7})));
    }
    TableSpec s = new TableSpec(List.of("id"), "t", List.of("arr", "vec"), List.of("arr"), 0, true, 3, 0, -1, 0, null,
        TableSpec.SplitMode.BY_KEY, 0, 0, false, null, 4, 7, 0, Map.of());
    Path out = tmp.resolve("expand");
    Manifest m = SequenceTables.prep(spark.createDataFrame(rows, schema), s, out.toString());
    assertEquals(5, m.spec().features());
    assertEquals(2, m.spec().outputs());
    Batch b = shard(out, m, m.shards().get(0));
    assertArrayEquals(new float[] {0, 10, 100, 200, 300, 1, 11, 0, 7, 0, 2, 12, 102, 202, 302}, b.x());
    assertArrayEquals(new float[] {3, 13}, b.targets(), "seq2one, horizon 1: arr of the row after the window");

    StructType wide = new StructType(new StructField[] {
        DataTypes.createStructField("name", DataTypes.StringType, false),
        DataTypes.createStructField("seq", DataTypes.createArrayType(DataTypes.createArrayType(DataTypes.DoubleType)), true),
        DataTypes.createStructField("label", DataTypes.IntegerType, true)});
    List<Row> seqs = List.of(
        RowFactory.create("x", List.of(List.of(1.0, 2.0), List.of(3.0, 4.0)), 1),
        RowFactory.create("y", List.of(List.of(5.0, 6.0), List.of(7.0, 8.0), List.of(9.0, 10.0)), 0));
    TableSpec ws = new TableSpec(List.of("name"), null, List.of(), List.of("label"), 2, true, 3, 0, -1, 2, "seq",
        TableSpec.SplitMode.BY_KEY, 0, 0, false, null, 4, 7, 0, Map.of());
    Path wout = tmp.resolve("wide");
    Manifest wm = SequenceTables.prep(spark.createDataFrame(seqs, wide), ws, wout.toString());
    assertEquals(2, wm.sequences(Split.TRAIN));
    assertTrue(wm.spec().variableLength());
    Batch wb = shard(wout, wm, wm.shards().get(0));
    Map<Integer, Integer> labelByLength = new HashMap<>();
    for (int i = 0; i < 2; i++) {
      labelByLength.put(wb.length(i), wb.classes()[i]);
    }
    assertEquals(Map.of(2, 1, 3, 0), labelByLength, "each row one sequence with its own label");
  }

  @Test
  void parquetFromAnIndependentWriterAndFromSparkGiveTheSameDataset() throws IOException {
    // The same 5 sensors × 12 rows, written by parquet-hadoop's example writer and by Spark
    MessageType schema = MessageTypeParser.parseMessageType(
        "message m { required binary sensor (UTF8); required int64 t; required double a; required double b; }");
    Path file = tmp.resolve("independent.parquet");
    Configuration conf = new Configuration(false);
    SimpleGroupFactory groups = new SimpleGroupFactory(schema);
    try (ParquetWriter<Group> w = ExampleParquetWriter.builder(new org.apache.hadoop.fs.Path(file.toUri()))
        .withConf(conf).withType(schema).build()) {
      for (int k = 0; k < 5; k++) {
        for (int t = 0; t < 12; t++) {
          w.write(groups.newGroup().append("sensor", "s" + k).append("t", (long) t).append("a", 100.0 * k + t)
              .append("b", (double) -t));
        }
      }
    }
    Path sparkWritten = tmp.resolve("spark.parquet");
    sensors(5, 12).write().parquet(sparkWritten.toString());
    TableSpec s = spec(4, 2, 3, 0.3, TableSpec.SplitMode.BY_KEY, true);
    Path a = tmp.resolve("from-independent");
    Path b = tmp.resolve("from-spark");
    Manifest ma = SequenceTables.prep(spark.read().parquet(file.toString()), s, a.toString());
    Manifest mb = SequenceTables.prep(spark.read().parquet(sparkWritten.toString()), s, b.toString());
    assertEquals(Files.readString(a.resolve(Manifest.FILE_NAME)), Files.readString(b.resolve(Manifest.FILE_NAME)));
    for (ShardInfo si : ma.shards()) {
      assertArrayEquals(Files.readAllBytes(a.resolve(si.file())), Files.readAllBytes(b.resolve(si.file())), si.file());
    }
    assertEquals(mb.shards().size(), ma.shards().size());
    try (Stream<Path> left = Files.list(a)) {
      assertTrue(left.noneMatch(p -> p.getFileName().toString().startsWith("_")), "no temporary files left");
    }
  }

  @Test
  void csvWrittenBySparkIsReadWithoutLosingItsFirstRow() throws IOException {
    // Spark's df.write.csv: a directory of part files, no header by default
    Dataset<Row> table = sensors(1, 30).select("a", "b").orderBy("a").coalesce(2);
    Path headerless = tmp.resolve("headerless");
    table.write().csv(headerless.toString());
    Configuration conf = TestFiles.localConf();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new CsvSource(
        new CsvSource.Options(headerless.toString(), List.of(), List.of(), 5, 0, -1, false, null, 0,
            ',', null), conf));
    assertTrue(e.getMessage().contains("--header false"), e.getMessage());
    CsvSource noHeader = new CsvSource(
        new CsvSource.Options(headerless.toString(), List.of("_c0"), List.of(), 5, 0, -1, false, null,
            0, ',', false), conf);
    // all 30 rows, the first included: windows of T=5 with K=1 at 0, 5, 10, 15, 20 (25 + 5 > 29)
    assertEquals(5, noHeader.count());
    assertEquals(0f, noHeader.read(0, 1, conf).x()[0], "the first row is data, not a header");

    Path withHeader = tmp.resolve("with-header");
    table.write().option("header", "true").csv(withHeader.toString());
    CsvSource headed = new CsvSource(
        new CsvSource.Options(withHeader.toString(), List.of("a", "b"), List.of("a"), 5, 0, -1,
            false, null, 0, ',', null), conf);
    assertEquals(5, headed.count(), "each part's header read once, all 30 rows kept");
  }
}
