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
  @Test
  void fromStepMustLeaveAStepAndCountsOnlyTheStepsFromIt() {
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
    int T = 4, B = 2;
    float[] x = new float[T * B], y = new float[T * B];
    for (int i = 0; i < x.length; i++) {
      x[i] = i / 8f;
      y[i] = 1 - i / 8f;
    }
    Batch batch = new Batch(T, B, 1, x, y, null, null);
    Params p = Params.initialize(c, 3);
    ReferenceEngine engine = new ReferenceEngine();
    for (int k : new int[] {T, T + 1, -1}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Evaluation.ofBatch(c, p, engine, batch, 0, k, Double.NaN, null, "a.shard"), "from-step " + k);
      assertTrue(e.getMessage().startsWith("--from-step " + k + ": expected 0 ≤ K < T = 4"), e.getMessage());
    }
    // K = T − 1 scores the last step only: B·O = 2 loss terms
    assertEquals(2, Evaluation.ofBatch(c, p, engine, batch, 0, T - 1, Double.NaN, null, "a.shard").lossTerms());
    assertEquals(T * B, Evaluation.ofBatch(c, p, engine, batch, 0, 0, Double.NaN, null, "a.shard").lossTerms());
  }
}
