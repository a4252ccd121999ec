package io.sparkrnn.job.sync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.job.TrainConfig;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.optim.Optimizer;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The step the driver (or every barrier task) applies, from the training options to new weights:
 * mean, clip-norm, weight decay, momentum, Adam's moments, AdamW's decoupling and the learning-rate
 * schedule, each against a float64 loop written here from the textbook formulas (PyTorch's
 * {@code torch.optim} and {@code clip_grad_norm_}), not from the kernel's optimizer classes.
 *
 * <p>The fixture: P = 4 parameters starting at θ0, three steps whose merged sums hold
 * {@code count} loss terms and gradient sums chosen so the mean gradient's norm (2.30, 2.02, 1.84)
 * is above clip-norm 0.5 on every step. Weight decay 0.1 at lr 0.1 moves θ by about 0.01 a step,
 * thousands of times the tolerance (2e-6), so dropping any one option fails the comparison.
 */
class StepUpdateTest {
  static final float[] THETA0 = {1.0f, -0.5f, 0.25f, 2.0f};
  /** gradient sums of steps 0..2 over COUNT loss terms each; means are these / COUNT. */
  static final double[][] SUMS = {
      {3.0, -1.5, 6.0, 0.75},
      {-2.25, 4.5, 1.5, -3.0},
      {1.2, 0.6, -4.8, 2.4},
  };
  static final long COUNT = 3;
  static final double TOL = 2e-6;

  static Map<String, String> options(String... kv) {
    Map<String, String> m = new HashMap<>();
    m.put("data", "file:///tmp/none");
    m.put("out", "file:///tmp/out");
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return m;
  }

  /** Runs the three fixture steps through StepUpdate and returns θ. */
  static float[] viaStepUpdate(Map<String, String> opts) {
    TrainConfig config = TrainConfig.parse(opts, null);
    StepUpdate update = new StepUpdate(config, SUMS.length);
    Optimizer optimizer = update.newOptimizer();
    float[] theta = THETA0.clone();
    for (int t = 0; t < SUMS.length; t++) {
      StepUpdate.Outcome o = update.apply(t, new GradientSum(0.6 * COUNT, COUNT, SUMS[t].clone()), theta, optimizer);
      assertEquals(StepUpdate.Status.APPLIED, o.status());
      assertEquals(0.6, o.loss(), 1e-15);
      assertEquals(norm(mean(SUMS[t])), o.norm(), 1e-6, "the norm logged is the one before clipping");
    }
    return theta;
  }

  static double[] mean(double[] sum) {
    double[] g = new double[sum.length];
    for (int i = 0; i < g.length; i++) {
      g[i] = sum[i] / COUNT;
    }
    return g;
  }

  static double norm(double[] g) {
    double s = 0;
    for (double x : g) {
      s += x * x;
    }
    return Math.sqrt(s);
  }

  /** clip_grad_norm_: g · max / (‖g‖ + 1e-6) when that factor is below 1. */
  static double[] clipped(double[] g, double max) {
    double c = max / (norm(g) + 1e-6);
    if (max > 0 && c < 1) {
      for (int i = 0; i < g.length; i++) {
        g[i] *= c;
      }
    }
    return g;
  }

  static double[] theta0() {
    double[] th = new double[THETA0.length];
    for (int i = 0; i < th.length; i++) {
      th[i] = THETA0[i];
    }
    return th;
  }

  /** SGD: g += λθ; b = g on step 1, b = μb + g after; θ -= lr·b. */
  static double[] sgdByHand(double lr, double momentum, double wd, double clip) {
    double[] th = theta0();
    double[] b = new double[th.length];
    for (int t = 0; t < SUMS.length; t++) {
      double[] g = clipped(mean(SUMS[t]), clip);
      for (int i = 0; i < th.length; i++) {
        double gi = g[i] + wd * th[i];
        b[i] = t == 0 ? gi : momentum * b[i] + gi;
        th[i] -= lr * b[i];
      }
    }
    return th;
  }

  /**
   * Adam (L2 weight decay added to the gradient) or AdamW (θ ← θ(1 − lr·λ) first):
   * m = β1 m + (1−β1) g, v = β2 v + (1−β2) g², θ -= lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε).
   */
  static double[] adamByHand(double[] lrs, double wd, boolean decoupled, double clip) {
    return adamByHand(lrs, wd, decoupled, clip, 1e-8);
  }

  /** As above with Adam's ε given (--eps). */
  static double[] adamByHand(double[] lrs, double wd, boolean decoupled, double clip, double eps) {
    double b1 = 0.9;
    double b2 = 0.999;
    double[] th = theta0();
    double[] m = new double[th.length];
    double[] v = new double[th.length];
    for (int t = 0; t < SUMS.length; t++) {
      double lr = lrs[t];
      double[] g = clipped(mean(SUMS[t]), clip);
      int step = t + 1;
      for (int i = 0; i < th.length; i++) {
        double gi = g[i];
        if (decoupled) {
          th[i] *= 1 - lr * wd;
        } else {
          gi += wd * th[i];
        }
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        double denom = Math.sqrt(v[i]) / Math.sqrt(1 - Math.pow(b2, step)) + eps;
        th[i] -= lr / (1 - Math.pow(b1, step)) * m[i] / denom;
      }
    }
    return th;
  }

  static void assertClose(double[] expected, float[] actual, String what) {
    double[] got = new double[actual.length];
    for (int i = 0; i < got.length; i++) {
      got[i] = actual[i];
    }
    assertArrayEquals(expected, got, TOL, what);
  }

  @Test
  void sgdWithMomentumWeightDecayAndClippingMatchesTheFormulas() {
    float[] theta = viaStepUpdate(options("optimizer", "sgd", "lr", "0.1", "momentum", "0.9", "weight-decay", "0.1",
        "clip-norm", "0.5"));
    assertClose(sgdByHand(0.1, 0.9, 0.1, 0.5), theta, "sgd, momentum 0.9, weight decay 0.1, clip-norm 0.5");
  }

  @Test
  void sgdWithoutClippingTakesTheWholeGradient() {
    float[] theta = viaStepUpdate(options("optimizer", "sgd", "lr", "0.1", "momentum", "0", "clip-norm", "0"));
    assertClose(sgdByHand(0.1, 0, 0, 0), theta, "plain sgd, no clipping");
  }

  @Test
  void adamAddsWeightDecayToTheGradient() {
    float[] theta = viaStepUpdate(options("optimizer", "adam", "lr", "0.1", "weight-decay", "0.1", "clip-norm", "0.5"));
    assertClose(adamByHand(new double[] {0.1, 0.1, 0.1}, 0.1, false, 0.5), theta, "adam, L2 weight decay 0.1, clip-norm 0.5");
  }

  @Test
  void adamwDecaysTheWeightsApartFromTheGradient() {
    float[] theta = viaStepUpdate(options("optimizer", "adamw", "lr", "0.1", "weight-decay", "0.1", "clip-norm", "0.5"));
    assertClose(adamByHand(new double[] {0.1, 0.1, 0.1}, 0.1, true, 0.5), theta, "adamw, decoupled weight decay 0.1, clip-norm 0.5");
  }

  @Test
  void cosineScheduleGivesEachStepItsRate() {
    // T = 3 steps from lr 0.1 to lr-min 0.02: lr_t = 0.02 + 0.04 (1 + cos(π t / 3)) = 0.1, 0.08, 0.04
    float[] theta = viaStepUpdate(options("optimizer", "adam", "lr", "0.1", "lr-min", "0.02", "lr-schedule", "cosine",
        "clip-norm", "0"));
    assertClose(adamByHand(new double[] {0.1, 0.08, 0.04}, 0, false, 0), theta, "adam under cosine annealing");
  }

  @Test
  void nonFiniteGradientLeavesTheWeightsAloneAndReportsPerOnNan() {
    double[] bad = {1, Double.NaN, 0, 0};
    for (String policy : new String[] {"stop", "skip"}) {
      TrainConfig config = TrainConfig.parse(options("on-nan", policy), null);
      StepUpdate update = new StepUpdate(config, 3);
      float[] theta = THETA0.clone();
      StepUpdate.Outcome o = update.apply(0, new GradientSum(1, 1, bad.clone()), theta, update.newOptimizer());
      assertEquals(policy.equals("skip") ? StepUpdate.Status.SKIPPED : StepUpdate.Status.NONFINITE, o.status(), policy);
      assertArrayEquals(THETA0, theta, "--on-nan " + policy + " must not touch the weights");
    }
    TrainConfig config = TrainConfig.parse(options(), null);
    StepUpdate update = new StepUpdate(config, 3);
    StepUpdate.Outcome empty = update.apply(0, new GradientSum(4), THETA0.clone(), update.newOptimizer());
    assertEquals(StepUpdate.Status.EMPTY, empty.status());
    assertTrue(Double.isNaN(empty.loss()));
  }

  @Test
  void aNonFiniteLossAloneStopsOrSkipsTheStepToo() {
    // Status.NONFINITE / SKIPPED: "loss or gradient not finite": here the gradient is finite and only the loss is not
    for (double lossSum : new double[] {Double.NaN, Double.POSITIVE_INFINITY}) {
      for (String policy : new String[] {"stop", "skip"}) {
        StepUpdate update = new StepUpdate(TrainConfig.parse(options("on-nan", policy), null), 3);
        float[] theta = THETA0.clone();
        StepUpdate.Outcome o = update.apply(0, new GradientSum(lossSum, COUNT, SUMS[0].clone()), theta, update.newOptimizer());
        assertEquals(policy.equals("skip") ? StepUpdate.Status.SKIPPED : StepUpdate.Status.NONFINITE, o.status(),
            "loss sum " + lossSum + ", --on-nan " + policy);
        assertArrayEquals(THETA0, theta, "loss sum " + lossSum + ", --on-nan " + policy + " must not touch the weights");
      }
    }
  }

  @Test
  void adamsEpsilonIsTheOnePassed() {
    // the fixture's √v̂ is about |g| (0.2 to 2.2): at the default ε = 1e-8 ε is lost in it, at --eps 0.5 it damps every step
    // θ -= lr·m̂/(√v̂ + ε), so a step that ignored --eps moves θ several times the tolerance further
    for (String optimizer : new String[] {"adam", "adamw"}) {
      float[] theta = viaStepUpdate(options("optimizer", optimizer, "lr", "0.1", "eps", "0.5", "weight-decay", "0.1", "clip-norm", "0"));
      assertClose(adamByHand(new double[] {0.1, 0.1, 0.1}, 0.1, optimizer.equals("adamw"), 0, 0.5), theta, optimizer + ", eps 0.5");
    }
  }
}
