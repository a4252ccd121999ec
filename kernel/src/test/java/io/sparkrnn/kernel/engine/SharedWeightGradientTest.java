package io.sparkrnn.kernel.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import org.junit.jupiter.api.Test;

/**
 * The gradient-accumulation question: is the BPTT gradient of a weight shared across time the sum
 * of its per-step contributions? RNN(1→5, tanh) + Linear(5→1), inputs sin(1), sin(2), sin(3),
 * target sin(4), seq2one mse.
 *
 * <p>The per-step contributions come from an independent, unrolled network written here, in which
 * step t has its own copy of W_ih, W_hh, b_ih and b_hh (all copies hold the same values). The
 * derivative with respect to copy t is taken by finite differences, so no BPTT code is shared with
 * the engine under test.
 */
class SharedWeightGradientTest {
  static final int H = 5;
  static final int STEPS = 3;
  /** Five-point central difference step; see ReferenceGradientTest.EPS. */
  static final double EPS = 1e-3;
  /** float64 analytic gradient vs float64 finite differences. */
  static final double REL_TOL = 1e-6;

  @Test
  void gradientOfASharedWeightIsTheSumOfItsPerStepContributions() {
    ModelConfig config = new ModelConfig(CellType.RNN, 1, 1, H, 1, Mode.SEQ2ONE, LossType.MSE);
    ParamLayout layout = new ParamLayout(config);
    double[] p = Fixtures.randomParams(layout.size(), 2024);
    float[] x = {(float) Math.sin(1), (float) Math.sin(2), (float) Math.sin(3)};
    float[] y = {(float) Math.sin(4)};
    Batch batch = new Batch(STEPS, 1, 1, x, y, null, null);

    double[] bptt = new double[p.length];
    ReferenceEngine.lossAndGradient(config, p, batch, null, bptt);

    // copies[t] holds step t's own W_ih (5), W_hh (25), b_ih (5), b_hh (5), in that order.
    int cellSize = H + H * H + H + H;
    double[][] copies = new double[STEPS][cellSize];
    int wih = layout.weightIh(0);
    for (int t = 0; t < STEPS; t++) {
      System.arraycopy(p, wih, copies[t], 0, cellSize); // the layout stores the four tensors contiguously in this order
    }
    double[] head = new double[H + 1];
    System.arraycopy(p, layout.headWeight(), head, 0, H + 1);

    double[][] perStep = new double[STEPS][cellSize];
    for (int t = 0; t < STEPS; t++) {
      for (int i = 0; i < cellSize; i++) {
        double saved = copies[t][i];
        double[] f = new double[4];
        double[] offsets = {EPS, -EPS, 2 * EPS, -2 * EPS};
        for (int k = 0; k < 4; k++) {
          copies[t][i] = saved + offsets[k];
          f[k] = unrolledLoss(copies, head, x, y[0]);
        }
        copies[t][i] = saved;
        perStep[t][i] = (8 * (f[0] - f[1]) - (f[2] - f[3])) / (12 * EPS);
      }
    }

    double worst = 0;
    String where = "";
    boolean lastStepAloneDiffers = false;
    for (int i = 0; i < cellSize; i++) {
      double sum = perStep[0][i] + perStep[1][i] + perStep[2][i];
      double analytic = bptt[wih + i];
      double rel = Math.abs(sum - analytic) / Math.max(Math.max(Math.abs(sum), Math.abs(analytic)), 1e-4);
      if (rel > worst) {
        worst = rel;
        where = ReferenceGradientTest.name(layout, wih + i) + ": BPTT " + analytic + ", Σ_t per-step " + sum;
      }
      lastStepAloneDiffers |= Math.abs(perStep[2][i] - analytic) > 1e-3 * Math.abs(analytic) + 1e-9;
    }
    if (worst > REL_TOL) {
      fail("worst relative error " + worst + " at " + where);
    }
    assertTrue(lastStepAloneDiffers, "the earlier steps must contribute, or this test proves nothing");
  }

  /** h_t = tanh(W_ih⁽ᵗ⁾ x_t + b_ih⁽ᵗ⁾ + W_hh⁽ᵗ⁾ h_{t−1} + b_hh⁽ᵗ⁾), h_0 = 0; y = W h_3 + b; loss = (y − target)². */
  static double unrolledLoss(double[][] copies, double[] head, float[] x, double target) {
    double[] h = new double[H];
    for (int t = 0; t < STEPS; t++) {
      double[] c = copies[t];
      double[] next = new double[H];
      for (int j = 0; j < H; j++) {
        double a = c[j] * x[t] + c[H + H * H + j] + c[H + H * H + H + j];
        for (int k = 0; k < H; k++) {
          a += c[H + j * H + k] * h[k];
        }
        next[j] = Math.tanh(a);
      }
      h = next;
    }
    double out = head[H];
    for (int j = 0; j < H; j++) {
      out += head[j] * h[j];
    }
    return (out - target) * (out - target);
  }
}
