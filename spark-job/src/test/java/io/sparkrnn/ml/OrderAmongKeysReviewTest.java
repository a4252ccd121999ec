package io.sparkrnn.ml;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Review of 6d7e62d..6c19b838 (a2bd16eb): prep table and fit refuse the order column among the key
 * columns; RnnModel.transform and evaluate do not.
 */
class OrderAmongKeysReviewTest {
  static SparkSession spark;

  @BeforeAll
  static void start() {
    spark = SparkSession.builder().master("local[2]").appName("OrderAmongKeysReviewTest")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  /**
   * A model's column params set by hand (docs/ml.md: "new RnnModel(bytes) ... set its column params
   * before transform"), with the time column among the keys: setKeyCols("k", "ts"). fit refuses
   * that ("setKeyCols: column 'ts' is also the setOrderCol column; a series' time is not its key"),
   * but transform plans and runs it: each row is a key of its own, scored from the zero state, and
   * every prediction is the model's first-step output, silently (and evaluate scores those).
   * Expected: the same refusal, before any job.
   */
  @Test
  void transformRefusesTheOrderColumnAmongTheKeysAsFitDoes() {
    Dataset<Row> t = spark.range(40).selectExpr("CAST(id DIV 20 AS INT) AS kid", "CAST(id % 20 AS INT) AS h")
        .selectExpr("concat('e', kid) AS k", "timestamp_seconds(1700000000 + h * 3600) AS ts", "sin(h / 3.0 + kid) AS x");
    RnnModel fitted = new RnnEstimator().setKeyCols("k").setOrderCol("ts").setInputCols("x").setSteps(4).setStride(2)
        .setHiddenSize(4).setMaxSteps(2).setBatch(4).setSeed(1).setValidationFraction(0).fit(t);
    RnnModel byHand = new RnnModel(fitted.modelBytes()).setKeyCols("k", "ts").setOrderCol("ts").setInputCols("x");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> byHand.transform(t).collectAsList(),
        "ts is the order column and a key: each row would be a series of one row");
    assertTrue(e.getMessage().contains("'ts'") && e.getMessage().contains("orderCol"), e.getMessage());
  }
}
