package io.sparkrnn.ml;

import static org.apache.spark.sql.functions.expr;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Review of 6d7e62d..6c19b838 (5bcd8633): RnnModel.transform under missing ffill (SeriesScorer
 * fills a missing input value with the key's last valid one of its column).
 */
class FfillReviewTest {
  static SparkSession spark;

  @BeforeAll
  static void start() {
    spark = SparkSession.builder().master("local[2]").appName("FfillReviewTest")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  /**
   * An array input column of width 2; at (e1, h=10) the array is [null]: one element, not two.
   * prep table (and so fit) refuses an array of another width whatever its values ("holds 1
   * values ..., expected 2"), and transform refuses [1.0] the same way ("inputCols [arr[1]] give 1
   * values ... trained on F=2 features"). Under ffill, [null] is taken as a missing value, filled
   * with the key's last two values and scored, silently: the width is never checked against the
   * column's (SeriesScorer.toModelUnits takes the fill's width, run.widths[c], for a short array
   * with a null element). Expected: refused as [1.0] is.
   */
  @Test
  void aShortArrayWithANullElementIsRefusedForItsWidthUnderFfillAsAShortArrayIs() {
    Dataset<Row> t = spark.range(40).selectExpr("CAST(id DIV 20 AS INT) AS kid", "CAST(id % 20 AS INT) AS h")
        .selectExpr("concat('e', kid) AS k", "kid", "h", "timestamp_seconds(1700000000 + h * 3600) AS ts",
            "array(sin(h / 3.0 + kid), cos(h / 5.0) + kid) AS arr");
    RnnModel model = new RnnEstimator().setKeyCols("k").setOrderCol("ts").setInputCols("arr").setSteps(4).setStride(2)
        .setHiddenSize(4).setMaxSteps(2).setBatch(4).setSeed(1).setValidationFraction(0).setMissing("ffill").fit(t);
    Dataset<Row> shortArray = t.withColumn("arr", expr("IF(kid = 1 AND h = 10, array(CAST(NULL AS DOUBLE)), arr)"));
    List<Row> scored;
    try {
      scored = model.transform(shortArray).where("k = 'e1' AND h = 10").select("prediction").collectAsList();
    } catch (Exception e) {   // SparkException around the task's BadInputException
      StringBuilder all = new StringBuilder();
      for (Throwable c = e; c != null; c = c.getCause()) {
        all.append(c.getMessage()).append('\n');
      }
      assertTrue(all.toString().contains("give 1 values"), "refused for its width: " + all);
      return;
    }
    assertNotNull(null, "an array of 1 value where the model takes 2 was scored as a filled row: " + scored);
  }
}
