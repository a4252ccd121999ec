package io.sparkrnn.kernel.optim;

import static io.sparkrnn.kernel.testing.NumericAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import org.junit.jupiter.api.Test;

class SgdTest {
  /** A handful of float32 roundings per step on values of order 1 (ulp 1.2e-7), over ≤ 3 steps. */
  static final double FLOAT32_TOL = 1e-6;

  @Test
  void plainStepIsParamMinusLrTimesGrad() {
    float[] p = {1f, -2f};
    new Sgd(0.1).step(p, new float[] {0.5f, 0.25f});
    // 1 − 0.1·0.5 = 0.95;  −2 − 0.1·0.25 = −2.025
    assertClose(new double[] {0.95, -2.025}, p, FLOAT32_TOL, "sgd");
  }

  @Test
  void momentumHandComputedOverThreeSteps() {
    // b1 = 1 → θ = 0.9;  b2 = 0.9 + 1 = 1.9 → θ = 0.71;  b3 = 1.71 + 1 = 2.71 → θ = 0.439
    float[] p = {1f};
    Sgd sgd = new Sgd(0.1, 0.9, 0, 0, false);
    double[] expected = {0.9, 0.71, 0.439};
    for (int t = 0; t < 3; t++) {
      sgd.step(p, new float[] {1f});
      assertClose(new double[] {expected[t]}, p, FLOAT32_TOL, "momentum step " + (t + 1));
    }
    assertEquals(3, sgd.stepCount());
  }

  @Test
  void nesterovHandComputedOverThreeSteps() {
    // b1 = 1, g' = 1 + 0.9 = 1.9 → θ = 0.81;  b2 = 1.9, g' = 1 + 1.71 = 2.71 → θ = 0.539;
    // b3 = 2.71, g' = 1 + 2.439 = 3.439 → θ = 0.1951
    float[] p = {1f};
    Sgd sgd = new Sgd(0.1, 0.9, 0, 0, true);
    double[] expected = {0.81, 0.539, 0.1951};
    for (int t = 0; t < 3; t++) {
      sgd.step(p, new float[] {1f});
      assertClose(new double[] {expected[t]}, p, FLOAT32_TOL, "nesterov step " + (t + 1));
    }
  }

  @Test
  void firstMomentumStepIsNotDampened() {
    // PyTorch: buf = grad on the first step, dampening applies from the second:
    // b1 = 1 → θ = 0.9;  b2 = 0.9·1 + 0.5·1 = 1.4 → θ = 0.76
    float[] p = {1f};
    Sgd sgd = new Sgd(0.1, 0.9, 0.5, 0, false);
    sgd.step(p, new float[] {1f});
    assertClose(new double[] {0.9}, p, FLOAT32_TOL, "step 1");
    sgd.step(p, new float[] {1f});
    assertClose(new double[] {0.76}, p, FLOAT32_TOL, "step 2");
  }

  @Test
  void momentumDampeningAndWeightDecayMatchTheFormulaInFloat64() {
    double lr = 0.05, mu = 0.8, damp = 0.25, wd = 0.1;
    float[][] grads = {{0.5f, -1.5f, 2f}, {-0.25f, 1f, 0.75f}, {1.25f, 0.5f, -2f}};
    float[] p = {1f, -0.5f, 0.25f};
    double[] e = {1, -0.5, 0.25};
    double[] b = new double[3];
    Sgd sgd = new Sgd(lr, mu, damp, wd, false);
    for (int t = 0; t < 3; t++) {
      sgd.step(p, grads[t]);
      for (int i = 0; i < 3; i++) {
        double g = grads[t][i] + wd * e[i];                        // L2: g + λθ
        b[i] = t == 0 ? g : mu * b[i] + (1 - damp) * g;            // b1 = g; b = μb + (1−τ)g
        e[i] -= lr * b[i];                                         // θ −= γ b
      }
      assertClose(e, p, FLOAT32_TOL, "step " + (t + 1));
    }
  }

  @Test
  void nesterovWithWeightDecayMatchesTheFormulaInFloat64() {
    double lr = 0.05, mu = 0.9, wd = 0.01;
    float[][] grads = {{0.5f, -1.5f}, {-0.25f, 1f}, {1.25f, 0.5f}};
    float[] p = {1f, -0.5f};
    double[] e = {1, -0.5};
    double[] b = new double[2];
    Sgd sgd = new Sgd(lr, mu, 0, wd, true);
    for (int t = 0; t < 3; t++) {
      sgd.step(p, grads[t]);
      for (int i = 0; i < 2; i++) {
        double g = grads[t][i] + wd * e[i];
        b[i] = t == 0 ? g : mu * b[i] + g;
        e[i] -= lr * (g + mu * b[i]);                              // θ −= γ (g + μ b)
      }
      assertClose(e, p, FLOAT32_TOL, "step " + (t + 1));
    }
  }

  @Test
  void setLearningRateChangesTheNextStep() {
    // θ = θ − γ g: 1 − 0.1·1 = 0.9 with γ = 0.1, then 0.9 − 0.01·1 = 0.89 after setLearningRate(0.01).
    float[] p = {1f};
    Sgd sgd = new Sgd(0.1);
    sgd.step(p, new float[] {1f});
    sgd.setLearningRate(0.01);
    sgd.step(p, new float[] {1f});
    assertClose(new double[] {0.89}, p, FLOAT32_TOL, "sgd after setLearningRate");
    assertEquals("0.01", sgd.hyperparameters().get("lr"));
  }

  @Test
  void setLearningRateRefusesNegativeNanAndInfinity() {
    // Optimizers.checkLearningRate's contract: "finite and ≥ 0".
    Sgd sgd = new Sgd(0.1);
    assertThrows(IllegalArgumentException.class, () -> sgd.setLearningRate(-0.1));
    assertThrows(IllegalArgumentException.class, () -> sgd.setLearningRate(Double.NaN));
    assertThrows(IllegalArgumentException.class, () -> sgd.setLearningRate(Double.POSITIVE_INFINITY));
  }

  @Test
  void gradientIsNotModified() {
    float[] g = {0.5f, -1f};
    new Sgd(0.1, 0.9, 0, 0.1, true).step(new float[] {1f, 2f}, g);
    assertClose(new double[] {0.5, -1}, g, 0, "grad");
  }

  @Test
  void invalidSettingsAreRefusedAsPyTorchDoes() {
    assertThrows(IllegalArgumentException.class, () -> new Sgd(-0.1));
    assertThrows(IllegalArgumentException.class, () -> new Sgd(0.1, -0.9, 0, 0, false));
    assertThrows(IllegalArgumentException.class, () -> new Sgd(0.1, 0.9, 0.1, 0, true));
    assertThrows(IllegalArgumentException.class, () -> new Sgd(0.1, 0, 0, 0, true));
    assertThrows(IllegalArgumentException.class, () -> new Sgd(Double.NaN));
  }

  @Test
  void hyperparametersRecordEachSettingUnderPyTorchsName() {
    // A checkpoint records SGD(lr, momentum, dampening, weight_decay, nesterov) by PyTorch's argument names.
    assertEquals(Map.of("lr", "0.1", "momentum", "0.9", "dampening", "0.0", "weight_decay", "0.01",
        "nesterov", "true"), new Sgd(0.1, 0.9, 0, 0.01, true).hyperparameters());
    assertEquals("false", new Sgd(0.1, 0.9, 0.5, 0, false).hyperparameters().get("nesterov"));
    assertEquals("0.5", new Sgd(0.1, 0.9, 0.5, 0, false).hyperparameters().get("dampening"));
  }

  @Test
  void mismatchedLengthsAreRefused() {
    Sgd sgd = new Sgd(0.1, 0.9, 0, 0, false);
    assertThrows(IllegalArgumentException.class, () -> sgd.step(new float[2], new float[3]));
    sgd.step(new float[2], new float[2]);
    assertThrows(IllegalArgumentException.class, () -> sgd.step(new float[3], new float[3]));
  }
}
