package io.sparkrnn.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.infer.PredictionAndGenerationTest;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Params;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A mutation audit of Evaluation.Metrics: perplexity, accuracy and closed-loop accuracy are class
 * models' metrics, NaN (JSON null, "-" in the table) for a regression model (docs/inference.md). The
 * tests checked that an mse evaluation's JSON has a perplexity key and a null accuracy, so an mse
 * evaluation that printed exp(loss) as its perplexity passed them. The shared scalar RNN (mse).
 */
class RegressionMetricsTest {
  @Test
  void aRegressionModelHasNoPerplexityOrAccuracyEvenWithAClosedLoop() {
    Params params = PredictionAndGenerationTest.scalarRnn().params();
    assertEquals(LossType.MSE, params.config().loss());
    int T = 6;
    int B = 2;
    float[] x = new float[T * B];
    float[] y = new float[T * B];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) Math.sin(0.7 * i);
      y[i] = (float) Math.cos(0.3 * i);
    }
    Batch batch = new Batch(T, B, 1, x, y, null, null);
    try (ReferenceEngine engine = new ReferenceEngine()) {
      Evaluation.Metrics m = Evaluation.ofBatch(params.config(), params, engine, batch, 3, 0, Double.NaN, null, "fixture");
      assertTrue(Double.isFinite(m.loss()) && Double.isFinite(m.closedLoopLoss()), m.toString());
      assertTrue(Double.isNaN(m.perplexity()), "perplexity of an mse model: " + m.perplexity());
      assertTrue(Double.isNaN(m.accuracy()), "accuracy of an mse model: " + m.accuracy());
      assertTrue(Double.isNaN(m.closedLoopAccuracy()), "closed-loop accuracy of an mse model: " + m.closedLoopAccuracy());
      Map<String, Object> json = m.toJson();
      assertNull(json.get("perplexity"), json.toString());
      assertNull(json.get("closed_loop_accuracy"), json.toString());
    }
  }
}
