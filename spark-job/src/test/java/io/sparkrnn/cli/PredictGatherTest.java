package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.Mode;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/**
 * What `predict --out FILE.npy` over a dataset checks against the driver's heap before Spark starts
 * (a user audit: 189 MB of outputs died at -Xmx512m after the forward passes; a review: 120 MB died
 * at 640m and fit in 1g): five copies of what a prediction stores, its outputs (4 bytes a value), a
 * class model's ids (4 bytes a step) and the lengths (4 bytes a sequence).
 */
class PredictGatherTest {
  @Test
  void theEstimateIsFiveCopiesOfTheOutputsIdsAndLengths() {
    // the audit's dataset: T = 48, 492,000 sequences, O = 2, regression: 48·492000·2·4 + 492000·4 bytes, five times
    assertEquals(5L * (48L * 492_000 * 2 * 4 + 492_000 * 4), PredictCommand.GATHERED_COPIES * PredictCommand.predictionBytes(Mode.SEQ2SEQ, 48, 492_000, 2, false));
    // the review's: T = 100, 300,000 sequences, O = 1: 120 MB of outputs, 1.2 MB of lengths; about 606 MB, under 1g
    assertEquals(5L * (100L * 300_000 * 4 + 300_000 * 4), PredictCommand.GATHERED_COPIES * PredictCommand.predictionBytes(Mode.SEQ2SEQ, 100, 300_000, 1, false));
    // a class model adds its ids, one int a step; seq2one has one row a sequence whatever T
    assertEquals(5L * (10L * 7 * 3 * 4 + 10L * 7 * 4 + 7 * 4), PredictCommand.GATHERED_COPIES * PredictCommand.predictionBytes(Mode.SEQ2SEQ, 10, 7, 3, true));
    assertEquals(5L * (1000L * 3 * 4 + 1000 * 4), PredictCommand.GATHERED_COPIES * PredictCommand.predictionBytes(Mode.SEQ2ONE, 48, 1000, 3, false));
    // no int overflow: 2^31 sequences of T = 100
    assertEquals(5L * (100L * (1L << 31) * 4 + (1L << 31) * 4), PredictCommand.GATHERED_COPIES * PredictCommand.predictionBytes(Mode.SEQ2SEQ, 100, 1L << 31, 1, false));
  }

  /** Predictions past spark.driver.maxResultSize (1g by default; 0 = no limit) are refused before Spark aborts the collect. */
  @Test
  void predictionsPastTheDriversResultLimitAreRefusedNamingIt() {
    long gb = 1L << 30;
    PredictCommand.requireResultSize("predict", gb, new SparkConf(false), "advice");   // exactly the default limit passes
    BadInputException e = assertThrows(BadInputException.class,
        () -> PredictCommand.requireResultSize("predict", gb + 1, new SparkConf(false), "advice"));
    assertTrue(e.getMessage().contains("about 1,073.7 MB of predictions to the driver, more than spark.driver.maxResultSize"
        + " (1g = 1,073.7 MB); advice, or raise it"), e.getMessage());   // 2^30 + 1 bytes = 1,073.741825 MB
    // a limit under 1 MB in kB, not "0 MB" (a user audit): 100k = 102,400 bytes, 127,000 bytes over it
    e = assertThrows(BadInputException.class, () -> PredictCommand.requireResultSize("predict", 127_000,
        new SparkConf(false).set("spark.driver.maxResultSize", "100k"), "advice"));
    assertTrue(e.getMessage().contains("about 127.0 kB of predictions to the driver, more than spark.driver.maxResultSize"
        + " (100k = 102.4 kB)"), e.getMessage());
    PredictCommand.requireResultSize("predict", gb + 1, new SparkConf(false).set("spark.driver.maxResultSize", "2g"), "advice");
    PredictCommand.requireResultSize("predict", 100 * gb, new SparkConf(false).set("spark.driver.maxResultSize", "0"), "advice");
  }
}
