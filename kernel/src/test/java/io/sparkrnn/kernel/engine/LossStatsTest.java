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
}
