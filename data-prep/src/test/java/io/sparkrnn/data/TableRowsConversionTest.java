package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.spark.SequenceTables;
import io.sparkrnn.data.spark.TableSpec;
import io.sparkrnn.kernel.model.Batch;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Date;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How TableRows turns a row's Spark types into floats, and how its errors show the key and the
 * order value: as people write them (ISO dates and instants), per TableRows' class comment.
 */
class TableRowsConversionTest {
  static SparkSession spark;
  @TempDir Path tmp;

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[1]").appName("table-rows-conversion-test")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    if (spark != null) {
      spark.stop();
    }
  }

  private static StructType schema(DataType order, String... doubles) {
    List<StructField> f = new ArrayList<>();
    f.add(DataTypes.createStructField("sensor", DataTypes.StringType, true));
    f.add(DataTypes.createStructField("t", order, true));
    for (String d : doubles) {
      f.add(DataTypes.createStructField(d, DataTypes.DoubleType, true));
    }
    return new StructType(f.toArray(new StructField[0]));
  }

  private static TableSpec spec(List<String> inputs, List<String> targets, int classes, TableSpec.Missing missing) {
    return new TableSpec(List.of("sensor"), "t", inputs, targets, classes, classes > 0, 2, 0, -1, 0, null,
        TableSpec.SplitMode.BY_KEY, 0, 0, false, missing, 4, 7, 0, Map.of());
  }

  private void assertRefused(Dataset<Row> table, TableSpec s, String... fragments) {
    SequenceTablesTest.assertPrepRefused(tmp, table, s, fragments);
  }

  @Test
  void integerLongFloatAndDecimalColumnsBecomeTheirFloats() throws IOException {
    StructType types = new StructType(new StructField[] {
        DataTypes.createStructField("sensor", DataTypes.StringType, true),
        DataTypes.createStructField("t", DataTypes.IntegerType, true),
        DataTypes.createStructField("i", DataTypes.IntegerType, true),
        DataTypes.createStructField("l", DataTypes.LongType, true),
        DataTypes.createStructField("f", DataTypes.FloatType, true),
        DataTypes.createStructField("m", DataTypes.createDecimalType(10, 2), true)});
    List<Row> rows = new ArrayList<>();
    for (int t = 0; t < 3; t++) {
      // 2^40 + t is exact in a double; as a float it is 2^40 (24-bit mantissa)
      rows.add(RowFactory.create("s0", t, -3 + t, (1L << 40) + t, 0.1f * (t + 1), new BigDecimal("12.34").add(
          BigDecimal.valueOf(t))));
    }
    Path out = tmp.resolve("types");
    // T = 2, next-step targets (K = 1): one window, rows 0 and 1, targets rows 1 and 2
    Manifest m = SequenceTables.prep(spark.createDataFrame(rows, types), spec(List.of("i", "l", "f", "m"), List.of(),
        0, null), out.toString());
    assertEquals(1, m.sequences(Split.TRAIN));
    ShardInfo s = m.shards().get(0);
    Batch b = ShardCodec.decode(Files.readAllBytes(out.resolve(s.file())), m.spec(), s.file(), s.batch());
    assertArrayEquals(new float[] {-3f, 0x1p40f, 0.1f, 12.34f, -2f, 0x1p40f, 0.2f, 13.34f}, b.x());
    assertArrayEquals(new float[] {-2f, 0x1p40f, 0.2f, 13.34f, -1f, 0x1p40f, 0.3f, 14.34f}, b.targets());
  }

  /**
   * A long or decimal is rounded to float once, correctly, not through double (a user audit). Each
   * value lies just past a float32 halfway point, which its nearest double does not:
   * <ul>
   *   <li>decimal 16777217.000000000000000001: floats near 2^24 are 2 apart, so 16777217 is the
   *       halfway point and the value just above it rounds up to 16777218; its nearest double is
   *       16777217 exactly, which ties to even, 16777216;
   *   <li>long 2^54 + 2^30 + 1: floats there are 2^31 apart, and 2^30 + 1 is past half of that, so
   *       2^54 + 2^31; doubles there are 4 apart, the nearest is 2^54 + 2^30, the float halfway
   *       point, which ties to even, 2^54.
   * </ul>
   * Arrays of them likewise.
   */
  @Test
  void longAndDecimalValuesAreRoundedToFloatOnceNotThroughDouble() throws IOException {
    StructType types = new StructType(new StructField[] {
        DataTypes.createStructField("sensor", DataTypes.StringType, true),
        DataTypes.createStructField("t", DataTypes.IntegerType, true),
        DataTypes.createStructField("m", DataTypes.createDecimalType(38, 18), true),
        DataTypes.createStructField("l", DataTypes.LongType, true),
        DataTypes.createStructField("la", DataTypes.createArrayType(DataTypes.LongType), true)});
    BigDecimal m = new BigDecimal("16777217.000000000000000001");
    long l = (1L << 54) + (1L << 30) + 1;
    List<Row> rows = new ArrayList<>();
    for (int t = 0; t < 3; t++) {
      rows.add(RowFactory.create("s0", t, m, l, scala.jdk.javaapi.CollectionConverters.asScala(List.of(l)).toSeq()));
    }
    // in memory, and read from Parquet, whose plan Spark's optimizer simplifies (it folded a long's
    // cast to float and back to double into one cast to double: a review)
    Path parquet = tmp.resolve("rounded-once.parquet");
    spark.createDataFrame(rows, types).write().parquet(parquet.toString());
    float up = 0x1p54f + 0x1p31f;
    for (Dataset<Row> table : List.of(spark.createDataFrame(rows, types), spark.read().parquet(parquet.toString()))) {
      Path out = tmp.resolve("rounded-once-" + table.hashCode());
      Manifest man = SequenceTables.prep(table, spec(List.of("m", "l", "la"), List.of(), 0, null), out.toString());
      ShardInfo s = man.shards().get(0);
      Batch b = ShardCodec.decode(Files.readAllBytes(out.resolve(s.file())), man.spec(), s.file(), s.batch());
      assertArrayEquals(new float[] {16777218f, up, up, 16777218f, up, up}, b.x(), table.queryExecution().optimizedPlan().toString());
    }
    // transform's rows take the same floats
    assertEquals(16777218f, io.sparkrnn.data.spark.TableNumbers.toFloat(m));
    assertEquals(up, io.sparkrnn.data.spark.TableNumbers.toFloat(l));
  }

  @Test
  void infinityIsAMissingValueLikeNullAndNaN() {
    // the class comment: "null, NaN, ±Inf and missing values (per TableSpec.Missing)"
    List<Row> rows = new ArrayList<>();
    for (long t = 0; t < 4; t++) {
      rows.add(RowFactory.create("s0", t, t == 2 ? Double.POSITIVE_INFINITY : (double) t));
    }
    Dataset<Row> table = spark.createDataFrame(rows, schema(DataTypes.LongType, "a"));
    assertRefused(table, spec(List.of("a"), List.of(), 0, null), "column 'a'", "missing", "sensor=s0", "t=2");
  }

  @Test
  void aStructOrArrayKeyIsNamedAsDatasetShowWritesIt() {
    // the key in a message reads as Dataset.show writes it ({s0, 3}, [s0, null]), not as UnsafeRow's hex words
    List<Row> rows = new ArrayList<>();
    for (long t = 0; t < 4; t++) {
      rows.add(RowFactory.create("s0", t, t == 2 ? Double.NaN : (double) t));
    }
    Dataset<Row> table = spark.createDataFrame(rows, schema(DataTypes.LongType, "a"));
    TableSpec byStruct = new TableSpec(List.of("k"), "t", List.of("a"), List.of(), 0, false, 2, 0, -1, 0, null,
        TableSpec.SplitMode.BY_KEY, 0, 0, false, null, 4, 7, 0, Map.of());
    assertRefused(table.withColumn("k", org.apache.spark.sql.functions.expr("named_struct('s', sensor, 'n', 3)")), byStruct,
        "column 'a'", "missing", "k={s0, 3}", "t=2");
    assertRefused(table.withColumn("k", org.apache.spark.sql.functions.expr("array(sensor, CAST(NULL AS string))")), byStruct,
        "column 'a'", "missing", "k=[s0, null]", "t=2");
  }

  @Test
  void aClassIdEqualToTheClassCountIsRefused() {
    // --classes 3: ids 0, 1, 2; id 3 is one past the last
    List<Row> rows = new ArrayList<>();
    for (long t = 0; t < 6; t++) {
      rows.add(RowFactory.create("s0", t, (double) t, t == 3 ? 3.0 : 2.0));
    }
    assertRefused(spark.createDataFrame(rows, schema(DataTypes.LongType, "a", "b")),
        spec(List.of("a"), List.of("b"), 3, null), "class id 3", "[0, 3)", "t=3");
  }

  @Test
  void negativeAndFractionalClassIdsAreRefused() {
    // class ids are integers in [0, N) (docs/data-format.md): −1 is below the range, 1.5 is no integer
    // (as a float it would be cut to class 1, as −1 would index no class)
    for (double bad : new double[] {-1.0, 1.5}) {
      List<Row> rows = new ArrayList<>();
      for (long t = 0; t < 6; t++) {
        rows.add(RowFactory.create("s0", t, (double) t, t == 3 ? bad : 2.0));
      }
      assertRefused(spark.createDataFrame(rows, schema(DataTypes.LongType, "a", "b")),
          spec(List.of("a"), List.of("b"), 3, null), "class id " + (bad == -1.0 ? "-1" : "1.5"), "[0, 3)", "t=3");
    }
  }

  @Test
  void anArrayOfAnotherWidthIsRefusedNotReadShort() {
    // an array column's width is its first non-null value's (2 here); a row of 1 value is an error
    // (docs/data-format.md: "Always errors: … an array of another width"), never a row read short
    StructType schema = new StructType(new StructField[] {
        DataTypes.createStructField("sensor", DataTypes.StringType, true),
        DataTypes.createStructField("t", DataTypes.LongType, true),
        DataTypes.createStructField("arr", DataTypes.createArrayType(DataTypes.DoubleType), true)});
    List<Row> rows = new ArrayList<>();
    for (long t = 0; t < 4; t++) {
      rows.add(RowFactory.create("s0", t, t == 2 ? List.of(2.0) : List.of((double) t, 10.0 + t)));
    }
    assertRefused(spark.createDataFrame(rows, schema), spec(List.of("arr"), List.of(), 0, null), "column 'arr'",
        "sensor=s0", "t=2", "expected 2");
  }

  @Test
  void dateAndTimestampOrdersAreNamedAsIsoText() {
    // 2024-02-29 twice: the message shows the date, not Spark's internal day count (19782)
    List<Row> dates = List.of(RowFactory.create("s0", Date.valueOf("2024-02-28"), 1.0),
        RowFactory.create("s0", Date.valueOf("2024-02-29"), 2.0),
        RowFactory.create("s0", Date.valueOf("2024-02-29"), 3.0));
    assertRefused(spark.createDataFrame(dates, schema(DataTypes.DateType, "a")),
        spec(List.of("a"), List.of(), 0, null), "duplicate", "sensor=s0", "t=2024-02-29");
    // 1 700 000 000 s after the epoch is 2023-11-14T22:13:20Z (Spark holds it as µs internally)
    List<Row> times = List.of(RowFactory.create("s0", new Timestamp(1_700_000_000_000L), 1.0),
        RowFactory.create("s0", new Timestamp(1_700_000_000_000L), 2.0),
        RowFactory.create("s0", new Timestamp(1_700_000_060_000L), 3.0));
    assertRefused(spark.createDataFrame(times, schema(DataTypes.TimestampType, "a")),
        spec(List.of("a"), List.of(), 0, null), "duplicate", "sensor=s0", "t=2023-11-14T22:13:20Z");
  }
}
