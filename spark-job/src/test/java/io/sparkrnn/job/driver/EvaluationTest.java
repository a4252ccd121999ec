package io.sparkrnn.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import org.junit.jupiter.api.Test;

/** evaluate's --from-step K counts the steps t ≥ K: K must leave at least one step of T. */
class EvaluationTest {
  private static final ModelConfig C = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
  private static final int T = 4;
  private static final int B = 2;

  /** T = 4, B = 2, F = O = 1: inputs i/8 and targets 1 − i/8 at flat index i = t·B + b. */
  private static Batch rampBatch() {
    float[] x = new float[T * B], y = new float[T * B];
    for (int i = 0; i < x.length; i++) {
      x[i] = i / 8f;
      y[i] = 1 - i / 8f;
    }
    return new Batch(T, B, 1, x, y, null, null);
  }

  @Test
  void fromStepMustLeaveAStepAndCountsOnlyTheStepsFromIt() {
    Batch batch = rampBatch();
    Params p = Params.initialize(C, 3);
    ReferenceEngine engine = new ReferenceEngine();
    for (int k : new int[] {T, T + 1, -1}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Evaluation.ofBatch(C, p, engine, batch, 0, k, Double.NaN, null, "a.shard"), "from-step " + k);
      assertTrue(e.getMessage().startsWith("--from-step " + k + ": expected 0 ≤ K < T = 4"), e.getMessage());
    }
    // K = T − 1 scores the last step only: B·O = 2 loss terms
    assertEquals(2, Evaluation.ofBatch(C, p, engine, batch, 0, T - 1, Double.NaN, null, "a.shard").lossTerms());
    assertEquals(T * B, Evaluation.ofBatch(C, p, engine, batch, 0, 0, Double.NaN, null, "a.shard").lossTerms());
  }

  @Test
  void feedbackMustLeaveATeacherForcedStepFirst() {
    // Evaluation.checkFeedback's contract: K in [1, T − 1], at least one teacher-forced step first
    Batch batch = rampBatch();
    Params p = Params.initialize(C, 3);
    ReferenceEngine engine = new ReferenceEngine();
    for (int k : new int[] {T, T + 1}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Evaluation.ofBatch(C, p, engine, batch, k, 0, Double.NaN, null, "a.shard"), "feedback " + k);
      assertTrue(e.getMessage().startsWith("--feedback " + k + ": the closed loop needs 1 ≤ K < T = 4"), e.getMessage());
    }
    // K = T − 1: one teacher-forced step, then 3 self-driven ones
    assertTrue(Double.isFinite(Evaluation.ofBatch(C, p, engine, batch, T - 1, 0, Double.NaN, null, "a.shard").closedLoopLoss()));
  }
}
