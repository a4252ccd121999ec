package io.sparkrnn.kernel.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import org.junit.jupiter.api.Test;

/** Hand-computed loss, accuracy, tolerance and from-step sums. */
class LossStatsTest {

  @Test
  void seq2oneMseCountsRowsWithinTolerance() {
    ModelConfig c = new ModelConfig(CellType.GRU, 1, 1, 2, 1, Mode.SEQ2ONE, LossType.MSE);
    Batch b = new Batch(2, 3, 1, new float[6], new float[] {1f, 2f, 3f}, null, null);
    float[] out = {1.01f, 2.5f, 2.97f}; // errors 0.01, 0.5, -0.03
    LossStats s = new LossStats(0.04).add(c, b, out, 0);
    assertEquals((0.01 * 0.01 + 0.25 + 0.03 * 0.03) / 3, s.meanLoss(), 1e-6);
    assertEquals(2.0 / 3, s.fractionWithinTolerance(), 1e-12);
    assertTrue(Double.isNaN(new LossStats().add(c, b, out, 0).fractionWithinTolerance()), "no tolerance, no fraction");
  }

  @Test
  void seq2seqCrossEntropyFromStepScoresOnlyLaterValidSteps() {
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 1, 2, 2, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
    // T = 3, B = 2; sequence 1 has 2 valid steps. Logits (0, ln 3): p(class 1) = 3/4.
    float ln3 = (float) Math.log(3);
    float[] out = new float[3 * 2 * 2];
    for (int r = 0; r < 6; r++) {
      out[r * 2 + 1] = ln3;
    }
    int[] classes = {1, 1, 0, 1, 1, 0}; // (t, b) = t * 2 + b
    Batch b = new Batch(3, 2, 1, new float[6], null, classes, new int[] {3, 2});
    LossStats all = new LossStats().add(c, b, out, 0);
    assertEquals(5, all.lossCount()); // 3 + 2 valid steps
    assertEquals(4, all.correct()); // argmax is class 1 everywhere; (t=1, b=0) has class 0
    LossStats late = new LossStats().add(c, b, out, 1);
    assertEquals(3, late.lossCount()); // t = 1 for both, t = 2 for sequence 0 only
    assertEquals((2 * -Math.log(0.75) - Math.log(0.25)) / 3, late.meanLoss(), 1e-6);
    assertEquals(2.0 / 3, late.accuracy(), 1e-12);
  }

  @Test
  void anErrorEqualToTheToleranceIsWithinIt() {
    // "at most the tolerance": errors 0.5 (= tolerance, exact in float32) and 0.75
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2ONE, LossType.MSE);
    Batch b = new Batch(1, 2, 1, new float[2], new float[] {1f, 2f}, null, null);
    LossStats s = new LossStats(0.5).add(c, b, new float[] {1.5f, 2.75f}, 0);
    assertEquals(0.5, s.fractionWithinTolerance(), 0);
  }

  @Test
  void mergedStatsEqualTheStatsOfTheWholeBatch() {
    // seq2one, O = 2, one sequence per partition: errors (0, 3) in the first, (1, 0) in the second; tolerance 1
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 1, 2, 2, Mode.SEQ2ONE, LossType.MSE);
    Batch first = new Batch(1, 1, 1, new float[1], new float[] {3f, 1f}, null, null);
    Batch second = new Batch(1, 1, 1, new float[1], new float[] {0f, 2f}, null, null);
    LossStats s = new LossStats(1.0).add(c, first, new float[] {3f, 4f}, 0)
        .merge(new LossStats(1.0).add(c, second, new float[] {1f, 2f}, 0));
    assertEquals(2, s.rows());
    assertEquals(4, s.lossCount());
    assertEquals((9.0 + 1.0) / 4, s.meanLoss(), 1e-12);
    assertEquals(0.5, s.fractionWithinTolerance(), 0, "the second row (worst error 1) is within, the first (worst 3) is not");
    // per output over the 2 rows: RMSE √(Σ e² / rows), MAE Σ |e| / rows
    assertArrayEquals(new double[] {Math.sqrt(1.0 / 2), Math.sqrt(9.0 / 2)}, s.rootMeanSquaredErrors(), 1e-12);
    assertArrayEquals(new double[] {0.5, 1.5}, s.meanAbsoluteErrors(), 1e-12);
  }

  @Test
  void seq2oneScoresItsOneRowWhateverTheFromStep() {
    // fromStep only skips seq2seq steps; a seq2one sequence has a single output row
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2ONE, LossType.MSE);
    Batch b = new Batch(3, 2, 1, new float[6], new float[] {1f, 2f}, null, null);
    LossStats s = new LossStats().add(c, b, new float[] {1.5f, 2f}, 2);
    assertEquals(2, s.lossCount());
    assertEquals(0.25 / 2, s.meanLoss(), 1e-12);
  }

  @Test
  void mergedCrossEntropyStatsKeepEveryPartsHitsAndPredictions() {
    // seq2one, O = 2, one sequence per part: logits (1, 0) argmax 0; class 1 in the first part
    // (a miss), class 0 in the second (a hit). Merged: 1 hit out of 2 predictions, accuracy 1/2.
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 1, 2, 2, Mode.SEQ2ONE, LossType.CROSS_ENTROPY);
    Batch hit = new Batch(1, 1, 1, new float[1], null, new int[] {0}, null);
    Batch miss = new Batch(1, 1, 1, new float[1], null, new int[] {1}, null);
    float[] logits = {1f, 0f};
    LossStats s = new LossStats().add(c, miss, logits, 0).merge(new LossStats().add(c, hit, logits, 0));
    assertEquals(1, s.correct());
    assertEquals(2, s.predictions());
    assertEquals(0.5, s.accuracy(), 0);
    // −log softmax: log(1 + e^−1) for class 0, log(1 + e) for class 1
    assertEquals((Math.log(1 + Math.exp(-1)) + Math.log(1 + Math.E)) / 2, s.meanLoss(), 1e-6);
  }

  @Test
  void negativeErrorsCountByTheirMagnitude() {
    // seq2one, O = 2, B = 2: errors (−3, 0.5) and (−0.5, 0.25); tolerance 1. The first row's worst
    // |error| is 3 (outside), the second's 0.5 (within): fraction 1/2. MAE per output:
    // (|−3| + |−0.5|) / 2 = 1.75 and (0.5 + 0.25) / 2 = 0.375 (signed sums would give −1.75).
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 1, 2, 2, Mode.SEQ2ONE, LossType.MSE);
    Batch b = new Batch(1, 2, 1, new float[2], new float[] {3f, 0f, 0.5f, 0f}, null, null);
    LossStats s = new LossStats(1.0).add(c, b, new float[] {0f, 0.5f, 0f, 0.25f}, 0);
    assertEquals(0.5, s.fractionWithinTolerance(), 0);
    assertArrayEquals(new double[] {1.75, 0.375}, s.meanAbsoluteErrors(), 1e-12);
    assertArrayEquals(new double[] {Math.sqrt((9 + 0.25) / 2), Math.sqrt((0.25 + 0.0625) / 2)},
        s.rootMeanSquaredErrors(), 1e-12);
  }

  @Test
  void tiedLogitsPredictTheFirstClassAsTorchArgmaxDoes() {
    // torch.argmax: "If there are multiple maximal values then the indices of the first maximal
    // value are returned". Logits (0, 0, 0) for two sequences of class 0: both are hits.
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 1, 2, 3, Mode.SEQ2ONE, LossType.CROSS_ENTROPY);
    Batch b = new Batch(1, 2, 1, new float[2], null, new int[] {0, 0}, null);
    LossStats s = new LossStats().add(c, b, new float[6], 0);
    assertEquals(2, s.correct());
    assertEquals(Math.log(3), s.meanLoss(), 1e-12); // −log(1/3) for both rows
  }

  @Test
  void mergingIntoEmptyStatsDoesNotShareTheOtherStatsSums() {
    // Stats merged into an empty accumulator, which then takes more rows, must leave the merged
    // part's own per-output sums as they were: error 1 alone gives RMSE 1 and MAE 1.
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2ONE, LossType.MSE);
    Batch b = new Batch(1, 1, 1, new float[1], new float[] {0f}, null, null);
    LossStats part = new LossStats().add(c, b, new float[] {1f}, 0);
    LossStats total = new LossStats().merge(part);
    total.add(c, b, new float[] {3f}, 0);
    assertArrayEquals(new double[] {1}, part.rootMeanSquaredErrors(), 0);
    assertArrayEquals(new double[] {1}, part.meanAbsoluteErrors(), 0);
    // and the total has both rows: MAE (1 + 3) / 2 = 2, RMSE √((1 + 9) / 2)
    assertArrayEquals(new double[] {2}, total.meanAbsoluteErrors(), 1e-12);
    assertArrayEquals(new double[] {Math.sqrt(5)}, total.rootMeanSquaredErrors(), 1e-12);
  }
}
