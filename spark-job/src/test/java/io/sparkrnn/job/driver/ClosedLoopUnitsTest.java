package io.sparkrnn.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Normalization;
import io.sparkrnn.infer.PredictionAndGenerationTest;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import org.junit.jupiter.api.Test;

/**
 * The closed loop (evaluate and train's {@code --feedback K}) on normalised data feeds each output
 * back as generation does, in the inputs' units: {@code x' = (y·t_std + t_mean − i_mean) / i_std}.
 * It fed the output as it is, which on data whose targets and inputs have different statistics
 * measured a loop generation never runs (2.7–4.5% under the generated error on a trending series;
 * a user audit checked it against an independent float64 forward pass). Here a scalar RNN with
 * hand-set weights is stepped in float64 by the test, with statistics far apart, so the two rules
 * give clearly different losses.
 */
class ClosedLoopUnitsTest {
  // h' = tanh(A x + C h + BIAS), y = W h' + D
  private static final double A = PredictionAndGenerationTest.A, C = PredictionAndGenerationTest.C,
      BIAS = PredictionAndGenerationTest.BIAS, W = PredictionAndGenerationTest.W, D = PredictionAndGenerationTest.D;
  private static final int T = 6, B = 2, K = 3, N = T - K;
  /** inputs mean 3, std 2; targets mean −1, std 0.5 (far apart): the shared fixture's statistics */
  private static final Normalization UNITS = PredictionAndGenerationTest.scalarRnn().normalization();

  private static Params scalarRnn() {
    return PredictionAndGenerationTest.scalarRnn().params();
  }

  private static Batch batch() {
    float[] x = new float[T * B];
    float[] y = new float[T * B];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) Math.sin(0.7 * i);
      y[i] = (float) Math.cos(0.3 * i);
    }
    return new Batch(T, B, 1, x, y, null, null);
  }

  /** Mean squared error over the K self-driven steps, stepped in float64; {@code renormalise}: generation's rule. */
  private static double expectedLoss(Batch batch, boolean renormalise) {
    double se = 0;
    for (int b = 0; b < B; b++) {
      double h = 0;
      double out = 0;
      for (int t = 0; t < T; t++) {
        double fed = renormalise ? (out * 0.5 + -1.0 - 3.0) / 2.0 : out;   // (y·t_std + t_mean − i_mean) / i_std
        double input = t < N ? batch.x()[t * B + b] : fed;
        h = Math.tanh(A * input + C * h + BIAS);
        out = W * h + D;
        if (t >= N) {
          double d = out - batch.targets()[t * B + b];
          se += d * d;
        }
      }
    }
    return se / (K * B);
  }

  @Test
  void onNormalisedDataTheOutputIsFedBackInTheInputsUnitsAsGenerationDoes() {
    Params params = scalarRnn();
    Batch batch = batch();
    double generated = expectedLoss(batch, true);
    double asIs = expectedLoss(batch, false);
    assertTrue(Math.abs(generated - asIs) > 0.1 * asIs, "the fixture tells the two rules apart: " + generated + " vs " + asIs);
    try (ReferenceEngine engine = new ReferenceEngine()) {
      Evaluation.Metrics normalised = Evaluation.ofBatch(params.config(), params, engine, batch, K, 0, Double.NaN, UNITS, "a.safetensors");
      assertEquals(generated, normalised.closedLoopLoss(), 1e-5 * generated, "closed loop on normalised data");
      // without normalisation the output itself is the next input, as before
      Evaluation.Metrics raw = Evaluation.ofBatch(params.config(), params, engine, batch, K, 0, Double.NaN, null, "a.safetensors");
      assertEquals(asIs, raw.closedLoopLoss(), 1e-5 * asIs, "closed loop without normalisation");
    }
  }

  @Test
  void fromStepScoresOnlyTheLaterStepsOfTheTeacherForcedPass() {
    // teacher forced over all T steps in float64; the loss averages (y − target)² over t = 2..5 only
    Params params = scalarRnn();
    Batch batch = batch();
    double se = 0;
    for (int b = 0; b < B; b++) {
      double h = 0;
      for (int t = 0; t < T; t++) {
        h = Math.tanh(A * batch.x()[t * B + b] + C * h + BIAS);
        double d = W * h + D - batch.targets()[t * B + b];
        if (t >= 2) {
          se += d * d;
        }
      }
    }
    double expected = se / ((T - 2) * B);
    try (ReferenceEngine engine = new ReferenceEngine()) {
      Evaluation.Metrics m = Evaluation.ofBatch(params.config(), params, engine, batch, 0, 2, Double.NaN, UNITS, "fixture");
      assertEquals(expected, m.loss(), 1e-6 * expected, "teacher-forced loss from step 2");
      assertEquals((T - 2) * B, m.lossTerms());
    }
  }

  @Test
  void aClassModelsClosedLoopFeedsBackItsArgmax() {
    // symbols 0..2 that always step to the next: x_t = (x_0 + t) mod 3, class_t = x_{t+1}. An RNN with
    // W_ih = 5·I and a head that moves h_k to logit k+1 predicts the successor with logit tanh(5)
    // against 0, so fed back by argmax the loop stays on the sequence: accuracy 1 over the K steps
    // (sampling instead would pick a wrong symbol about 0.6 of the time even at temperature 1).
    ModelConfig c = SUCCESSOR_MODEL;
    Params p = successorParams();
    Batch batch = successorBatch(false);
    try (ReferenceEngine engine = new ReferenceEngine()) {
      Evaluation.Metrics m = Evaluation.ofBatch(c, p, engine, batch, K, 0, Double.NaN, null, "fixture");
      assertEquals(1.0, m.accuracy(), 0, "teacher forced");
      assertEquals(1.0, m.closedLoopAccuracy(), 0, "closed loop over the last " + K + " steps");
    }
  }

  @Test
  void aClassModelsClosedLoopMetricsCountOnlyTheSelfDrivenSteps() {
    // The successor model of the test above (logit of x+1 is a = tanh 5, the other two logits 0,
    // since W_hh, the biases and the head's bias are 0), but sequence b = 1 has wrong targets,
    // (x + 2) mod 3, over the last K steps. By argmax the loop feeds back the true next symbol, so it
    // predicts what teacher forcing predicts; only the steps each metric counts differ.
    //   cross-entropy of a hit  = ln(e^a + 2) − a,   of a miss (logit 0) = ln(e^a + 2)
    //   teacher forced, all T·B = 12 steps, 3 misses:  accuracy 9/12 = 0.75, loss ln(e^a + 2) − (9/12)·a
    //   closed loop, the K·B = 6 last steps, 3 misses: accuracy 3/6  = 0.5,  loss ln(e^a + 2) − (3/6)·a
    //   perplexity = exp(teacher-forced loss) (docs/inference.md)
    ModelConfig c = SUCCESSOR_MODEL;
    Params p = successorParams();
    double a = Math.tanh(5);
    double lnZ = Math.log(Math.exp(a) + 2);
    Batch batch = successorBatch(true);
    try (ReferenceEngine engine = new ReferenceEngine()) {
      Evaluation.Metrics m = Evaluation.ofBatch(c, p, engine, batch, K, 0, Double.NaN, null, "fixture");
      assertEquals(0.75, m.accuracy(), 1e-12, "teacher forced over all T·B steps");
      assertEquals(0.5, m.closedLoopAccuracy(), 1e-12, "closed loop over the last " + K + " steps only");
      assertEquals(T * B, m.lossTerms(), "one cross-entropy term per (t, b)");
      assertEquals(lnZ - 0.75 * a, m.loss(), CLASS_LOSS_TOL, "teacher-forced cross-entropy");
      assertEquals(lnZ - 0.5 * a, m.closedLoopLoss(), CLASS_LOSS_TOL, "closed-loop cross-entropy");
      assertEquals(Math.exp(lnZ - 0.75 * a), m.perplexity(), CLASS_LOSS_TOL, "perplexity = exp(loss)");
    }
  }

  /** A one-layer RNN over V = 3 one-hot symbols, H = O = 3, cross-entropy. */
  private static final ModelConfig SUCCESSOR_MODEL = new ModelConfig(CellType.RNN, 1, 3, 3, 3, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);

  /** W_ih = 5·I, W_hh and biases 0, a head that moves h_k to logit k+1: the successor gets logit tanh 5, the others 0. */
  private static Params successorParams() {
    Params p = Params.zeros(SUCCESSOR_MODEL);
    p.set(ParamLayout.weightIhName(0), new float[] {5, 0, 0, 0, 5, 0, 0, 0, 5});
    p.set(ParamLayout.HEAD_WEIGHT, new float[] {0, 0, 1, 1, 0, 0, 0, 1, 0}); // logit j = h_{j−1 mod 3}
    return p;
  }

  /**
   * x_t = (b + t) mod 3 one-hot, class_t = x_{t+1}; with {@code wrongTail} sequence b = 1's targets
   * over the last K steps (t ≥ N) are (x + 2) mod 3 instead.
   */
  private static Batch successorBatch(boolean wrongTail) {
    int V = 3;
    float[] x = new float[T * B * V];
    int[] classes = new int[T * B];
    for (int t = 0; t < T; t++) {
      for (int b = 0; b < B; b++) {
        x[(t * B + b) * V + (b + t) % V] = 1;
        classes[t * B + b] = (b + t + (wrongTail && b == 1 && t >= N ? 2 : 1)) % V;
      }
    }
    return new Batch(T, B, V, x, null, classes, null);
  }

  /** The logits are float32 (about 1e-7 relative) before a float64 log-sum-exp. */
  private static final double CLASS_LOSS_TOL = 1e-6;

  @Test
  void aPaddedSequenceIsNamedByItsShardAndLengthsEntry() {
    Params params = scalarRnn();
    Batch full = batch();
    Batch padded = new Batch(T, B, 1, full.x(), full.targets(), null, new int[] {T, T - 2});
    try (ReferenceEngine engine = new ReferenceEngine()) {
      BadInputException e = assertThrows(BadInputException.class,
          () -> Evaluation.ofBatch(params.config(), params, engine, padded, K, 0, Double.NaN, UNITS, "data/shard-00009.safetensors"));
      assertTrue(e.getMessage().contains("data/shard-00009.safetensors: lengths[1] = 4"), e.getMessage());
    }
  }
}
