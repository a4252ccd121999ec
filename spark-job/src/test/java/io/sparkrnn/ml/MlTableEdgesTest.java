package io.sparkrnn.ml;

import static org.apache.spark.sql.functions.expr;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.LogCapture;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Spark ML user's tables at their edges (a user audit, 2026-12-07): a ragged long-format table with holes through
 * Parquet, a number past float32's range, one key that the by-key split holds out.
 */
class MlTableEdgesTest {
  @TempDir
  static Path tmp;
  static SparkSession spark;

  @BeforeAll
  static void start() {
    spark = SparkSession.builder().master("local[2]").appName("MlTableEdgesTest")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  /** Entities e0..e4 of 40, 47, …, 68 hourly rows (string key entity, long key eid); x NaN at (e1, 10), y null at (e2, 20). */
  static Dataset<Row> ragged() {
    List<Row> rows = new ArrayList<>();
    for (int k = 0; k < 5; k++) {
      for (int h = 0; h < 40 + 7 * k; h++) {
        Double x = k == 1 && h == 10 ? Double.NaN : Math.sin(h / 3.0 + k);
        Double y = k == 2 && h == 20 ? null : Math.cos(h / 5.0) + k;
        rows.add(RowFactory.create("e" + k, k * 1000L, new Timestamp(1_700_000_000_000L + h * 3_600_000L), x, y));
      }
    }
    return spark.createDataFrame(rows, new StructType().add("entity", "string").add("eid", "long").add("ts", "timestamp")
        .add("x", "double").add("y", "double"));
  }

  static RnnEstimator estimator() {
    return new RnnEstimator().setKeyCols("entity").setOrderCol("ts").setInputCols("x", "y").setSteps(12).setStride(6)
        .setHiddenSize(4).setMaxSteps(10).setBatch(8).setSeed(1);
  }

  @Test
  void aRaggedTableWithHolesThroughParquetFitsWithDropAndScoresEveryRowButTheHoles() {
    String path = tmp.resolve("ragged.parquet").toString();
    ragged().write().parquet(path);
    Dataset<Row> table = spark.read().parquet(path);
    RnnEstimatorTest.assertMessage(() -> estimator().fit(table), "column 'x' has a missing value", "entity=e1", "setMissing");
    RnnModel model = estimator().setMissing("drop").fit(table);
    Dataset<Row> scored = model.transform(table);
    assertEquals(table.count(), scored.count(), "one row out per row in");
    List<Row> holes = scored.where("prediction IS NULL").orderBy("entity").select("entity", "ts").collectAsList();
    assertEquals(2, holes.size(), "the NaN and the null row, and no other: " + holes);
    assertEquals("e1", holes.get(0).getString(0));
    assertEquals("e2", holes.get(1).getString(0));
    // a long key makes the same series: the same number of forecast rows, and rows in any order score the same
    assertEquals(5 * 3, estimator().setKeyCols("eid").setMissing("drop").fit(table).setForecastSteps(3).transform(table)
        .where("forecast").count());
    assertEquals(scored.orderBy("entity", "ts").select("prediction").collectAsList(),
        model.transform(table.orderBy(expr("rand(5)")).repartition(3)).orderBy("entity", "ts").select("prediction").collectAsList());
  }

  /**
   * docs/ml.md, `missing`: "a null, NaN or Inf in a used column: error, drop the row, or ffill". A finite double past
   * float32's range (1e39, Double.MAX_VALUE as a sentinel) is Infinity once prep rounds it, and transform treats that row
   * as missing (null prediction), but fit with drop fails: "RnnEstimator: exact sum of a non-finite value Infinity",
   * naming no column, key or setter (with normalize false: "shard-00000.safetensors: x has Infinity at (t=3, b=2, f=0)").
   */
  @Test
  void aDoublePastFloat32RangeIsMissingToFitAsToTransform() {
    Dataset<Row> table = ragged().where("entity != 'e1' AND entity != 'e2'")
        .withColumn("x", expr("CASE WHEN entity = 'e3' AND unix_timestamp(ts) = 1700018000 THEN 1e39 ELSE x END"));
    RnnModel model = estimator().setMissing("drop").fit(table);
    assertEquals(1, model.transform(table).where("prediction IS NULL").count());
    RnnEstimatorTest.assertMessage(() -> estimator().fit(table), "column 'x'", "entity=e3", "setMissing");
  }

  /**
   * A number past float32's range inside an array or an ML Vector column is a missing value as in a
   * scalar column: setMissing("error") names the column and the key (mutation audit survivors T2, T6:
   * with the old finite-as-double check in the array and vector readers every test passed, and such a
   * value reached the shards as Infinity).
   */
  @Test
  void aDoublePastFloat32InAnArrayOrVectorIsMissingToo() {
    Dataset<Row> arrays = ragged().where("entity != 'e1' AND entity != 'e2'")
        .withColumn("x", expr("CASE WHEN entity = 'e3' AND unix_timestamp(ts) = 1700018000 THEN 1e39 ELSE x END"))
        .withColumn("a", expr("array(x, y)"));
    Dataset<Row> vectors = arrays.withColumn("v", org.apache.spark.ml.functions.array_to_vector(arrays.col("a")));
    for (String c : List.of("a", "v")) {   // v dense: read as an array
      RnnEstimatorTest.assertMessage(() -> estimator().setInputCols(c).fit(vectors), "column '" + c + "'", "entity=e3",
          "setMissing");
    }
    // a sparse vector has its own reader
    List<Row> rows = new ArrayList<>();
    for (Row r : arrays.select("entity", "ts", "x", "y").collectAsList()) {
      rows.add(RowFactory.create(r.get(0), r.get(1), org.apache.spark.ml.linalg.Vectors.sparse(2, new int[] {0, 1},
          new double[] {r.getDouble(2), r.getDouble(3)})));
    }
    Dataset<Row> sparse = spark.createDataFrame(rows, new StructType().add("entity", "string").add("ts", "timestamp")
        .add("s", new org.apache.spark.ml.linalg.VectorUDT()));
    RnnEstimatorTest.assertMessage(() -> estimator().setInputCols("s").fit(sparse), "column 's'", "entity=e3", "setMissing");
  }

  /**
   * One entity with keyCols set and the default validationFraction 0.1: the by-key split's seeded hash puts the only
   * key in validation for some seeds (3 of 1..12), and fit says "no training sequences: 200 rows in 1 series gave no
   * window of T=10 steps (+ horizon 1) in the training split; lower setSteps, or set setMinSteps …" — advice that does
   * not help: the series has 20 windows, all held out. A user expects the fit to train (or to be told to
   * setValidationFraction(0) / leave keyCols out).
   */
  @Test
  void aSingleKeyHeldOutByTheSplitIsNotBlamedOnSteps() {
    Dataset<Row> one = spark.range(0, 200).selectExpr("'only' AS k", "CAST(id AS INT) AS t", "sin(id / 7.0) AS x");
    RnnEstimator e = new RnnEstimator().setKeyCols("k").setOrderCol("t").setInputCols("x").setSteps(10).setHiddenSize(4)
        .setMaxSteps(2).setBatch(4).setSeed(3);
    RnnEstimatorTest.assertMessage(() -> e.fit(one), "no training sequences: all ", " windows of 1 series fell in the"
        + " validation split (by-key, setValidationFraction(0.1)); lower setValidationFraction (0 trains on every window), or"
        + " with few keys use setSplit(by-time)");
  }

  /**
   * fit's refusal of a value past float32 once normalised advises in fit's words (a review of
   * 98166f9, 8c38aa3): prep's "leave it out, or prep without --normalize" read "prep without
   * setNormalize", a prep fit has no step for. Column b alternates 0 and 1e-39 in the training rows
   * (by time, the first 70%) and is 1000 after: 2e42 standard deviations out.
   */
  @Test
  void fitsRefusalOfAValuePastFloat32AdvisesInSetterWords() {
    Dataset<Row> table = spark.range(0, 40).selectExpr("CAST(id AS INT) AS t", "CAST(id AS DOUBLE) AS a",
        "CASE WHEN id < 28 THEN (CASE WHEN id % 2 = 0 THEN 0D ELSE 1e-39D END) ELSE 1000D END AS b");
    RnnEstimator e = new RnnEstimator().setOrderCol("t").setInputCols("a", "b").setSteps(2).setHiddenSize(2)
        .setMaxSteps(1).setBatch(2).setValidationFraction(0.3).setNormalize(true);
    IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> e.fit(table));
    String m = x.getMessage();
    assertTrue(m.contains("(column 'b')") && m.contains("past float32's range"), m);
    assertFalse(m.contains("prep without setNormalize"), "fit's words: " + m);
    assertTrue(m.endsWith("leave it out, or setNormalize(false)"), m);
  }

  /**
   * fit's warning that the closed-loop loss is not measured (train --feedback's, in setter words)
   * names no file a fit without workDir removes when it ends: the validation shard and
   * metrics.jsonl it named were both in that directory (a review). Input a alternates 0 and 1e-39
   * (std 5e-40), target b = t mod 7: every output fed back is far past float32.
   */
  @Test
  void aFitWithoutWorkDirDoesNotPointAtFilesItRemoves() {
    Dataset<Row> table = spark.range(0, 60).selectExpr("id AS t",
        "CASE WHEN id % 2 = 0 THEN 0D ELSE 1e-39D END AS a", "CAST(id % 7 AS DOUBLE) AS b");
    RnnEstimator e = new RnnEstimator().setOrderCol("t").setInputCols("a").setTargetCols("b").setSteps(4)
        .setHiddenSize(2).setMaxSteps(2).setBatch(2).setValidationFraction(0.3).setValidateEvery(1).setFeedback(1)
        .setEngine("reference");
    List<String> warnings;
    try (LogCapture log = LogCapture.warnings(RnnEstimator.class)) {
      e.fit(table);
      warnings = log.messages().stream().filter(m -> m.contains("closed-loop loss is not measured"))
          .collect(Collectors.toList());
    }
    assertEquals(1, warnings.size(), warnings.toString());
    String w = warnings.get(0);
    assertTrue(w.contains("(setFeedback(0) leaves the closed loop out)"), w);
    assertFalse(w.contains("metrics.jsonl") || w.contains(".safetensors"), "fit removed its files (no workDir): " + w);
    assertTrue(w.contains("not measured: a validation shard of the table: normalization: the model's output 0")
        && w.contains("Training goes on; the fit's metrics have no closed_loop_loss"), w);
  }
}
