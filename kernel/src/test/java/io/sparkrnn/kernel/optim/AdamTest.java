package io.sparkrnn.kernel.optim;

import static io.sparkrnn.kernel.testing.NumericAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class AdamTest {
  /** A dozen float32 roundings per step on values of order 1 (ulp 1.2e-7), over 3 steps. */
  static final double FLOAT32_TOL = 1e-6;

  @Test
  void firstStepMovesEachParameterByLrTimesGradOverItsMagnitude() {
    // Step 1: m̂ = g, v̂ = g², so θ −= lr · g / (|g| + ε) ≈ lr · sign(g).
    double lr = 0.01;
    float[] g = {2f, -0.5f, 1e-3f};
    float[] p = new float[3];
    Adam.adam(lr).step(p, g);
    double[] expected = new double[3];
    for (int i = 0; i < 3; i++) {
      expected[i] = -lr * g[i] / (Math.abs((double) g[i]) + 1e-8);
    }
    assertClose(expected, p, FLOAT32_TOL, "adam step 1");
  }

  @Test
  void constantGradientMovesByLrEachStep() {
    // With g = 1 every step, m̂_t = v̂_t = 1, so each step moves θ by lr / (1 + ε): 1 → 0.97 after 3.
    float[] p = {1f};
    Adam adam = Adam.adam(0.01);
    for (int t = 0; t < 3; t++) {
      adam.step(p, new float[] {1f});
    }
    assertClose(new double[] {1 - 3 * 0.01 / (1 + 1e-8)}, p, FLOAT32_TOL, "adam after 3 steps");
    assertEquals(3, adam.stepCount());
  }

  @Test
  void threeStepsMatchTheTextbookFormulaInFloat64() {
    checkAgainstTextbook(0.9, 0.999, 0, false);
  }

  @Test
  void l2WeightDecayIsAddedToTheGradient() {
    checkAgainstTextbook(0.9, 0.999, 0.1, false);
  }

  @Test
  void adamWDecaysTheParameterBeforeTheUpdate() {
    checkAgainstTextbook(0.9, 0.999, 0.1, true);
  }

  @Test
  void lerpWithWeightAboveOneHalfMatchesTheFormula() {
    // beta1 = 0.3 makes the lerp weight 0.7, ATen's other branch: end − (end − self)(1 − w).
    checkAgainstTextbook(0.3, 0.9, 0, false);
  }

  /** Kingma and Ba's Algorithm 1 (with L2 or decoupled decay) in float64, against Adam in float32. */
  private static void checkAgainstTextbook(double beta1, double beta2, double wd, boolean decoupled) {
    double lr = 0.05, eps = 1e-8;
    int P = 5;
    SplittableRandom random = new SplittableRandom(42);
    float[] p = new float[P];
    double[] e = new double[P];
    for (int i = 0; i < P; i++) {
      p[i] = (float) (random.nextDouble() * 2 - 1);
      e[i] = p[i];
    }
    double[] m = new double[P];
    double[] v = new double[P];
    Adam adam = new Adam(lr, beta1, beta2, eps, wd, decoupled);
    for (int t = 1; t <= 3; t++) {
      float[] g = new float[P];
      for (int i = 0; i < P; i++) {
        g[i] = (float) (random.nextDouble() * 4 - 2);
      }
      adam.step(p, g);
      for (int i = 0; i < P; i++) {
        double gi = g[i];
        if (decoupled) {
          e[i] *= 1 - lr * wd;                                     // θ ← θ(1 − γλ)
        } else {
          gi += wd * e[i];                                         // g ← g + λθ
        }
        m[i] = beta1 * m[i] + (1 - beta1) * gi;                    // m_t
        v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;               // v_t
        double mHat = m[i] / (1 - Math.pow(beta1, t));             // m̂_t
        double vHat = v[i] / (1 - Math.pow(beta2, t));             // v̂_t
        e[i] -= lr * mHat / (Math.sqrt(vHat) + eps);               // θ_t
      }
      assertClose(e, p, FLOAT32_TOL, (decoupled ? "adamw" : "adam") + " step " + t);
    }
  }

  @Test
  void epsIsAddedToTheBiasCorrectedRootOutsideTheSqrt() {
    // torch.optim.Adam docs: θ_t = θ_{t−1} − γ m̂_t / (√v̂_t + ε), with m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t).
    // A large ε = 1 makes its placement visible. With g = 2 every step, m̂_t = 2 and v̂_t = 4, so each
    // step moves θ by 0.1 · 2 / (√4 + 1) = 0.2 / 3: θ_1 = −0.0666…, θ_2 = −0.1333…
    // (ε dropped would give −0.1 per step; ε added before dividing by √(1 − β2^t) gives ≈ −0.006.)
    float[] p = {0f};
    Adam adam = new Adam(0.1, 0.9, 0.999, 1.0, 0, false);
    adam.step(p, new float[] {2f});
    assertClose(new double[] {-0.2 / 3}, p, FLOAT32_TOL, "adam eps=1 step 1");
    adam.step(p, new float[] {2f});
    assertClose(new double[] {-0.4 / 3}, p, FLOAT32_TOL, "adam eps=1 step 2");
  }

  @Test
  void epsIsAddedOnceAsGivenNotSquaredNorScaled() {
    // The same formula with ε = 0.5 (ε = 1 above cannot tell ε from ε², nor from √ε): g = 2 every
    // step gives m̂_t = 2, v̂_t = 4, so each step moves θ by 0.1 · 2 / (√4 + 0.5) = 0.08.
    // (ε² would give 0.2 / 2.25 ≈ 0.0889; √ε, 0.2 / 2.707 ≈ 0.0739.)
    float[] p = {0f};
    Adam adam = new Adam(0.1, 0.9, 0.999, 0.5, 0, false);
    adam.step(p, new float[] {2f});
    assertClose(new double[] {-0.08}, p, FLOAT32_TOL, "adam eps=0.5 step 1");
    adam.step(p, new float[] {2f});
    assertClose(new double[] {-0.16}, p, FLOAT32_TOL, "adam eps=0.5 step 2");
  }

  @Test
  void setLearningRateChangesTheNextStep() {
    // Constant g = 1: m̂ = v̂ = 1, so each step moves θ by lr / (1 + 1e-8) (see above):
    // 1 − 0.1 = 0.9 with lr = 0.1, then 0.9 − 0.01 = 0.89 after setLearningRate(0.01).
    float[] p = {1f};
    Adam adam = Adam.adam(0.1);
    adam.step(p, new float[] {1f});
    adam.setLearningRate(0.01);
    adam.step(p, new float[] {1f});
    assertClose(new double[] {0.89}, p, FLOAT32_TOL, "adam after setLearningRate");
    assertEquals("0.01", adam.hyperparameters().get("lr"));
  }

  @Test
  void setLearningRateRefusesNegativeNanAndInfinity() {
    // Optimizers.checkLearningRate's contract: "finite and ≥ 0".
    Adam adam = Adam.adam(1e-3);
    assertThrows(IllegalArgumentException.class, () -> adam.setLearningRate(-0.1));
    assertThrows(IllegalArgumentException.class, () -> adam.setLearningRate(Double.NaN));
    assertThrows(IllegalArgumentException.class, () -> adam.setLearningRate(Double.POSITIVE_INFINITY));
  }

  @Test
  void defaultsAreThoseOfPyTorch() {
    assertEquals("adam", Adam.adam(1e-3).kind());
    assertEquals("0.9", Adam.adam(1e-3).hyperparameters().get("beta1"));
    assertEquals("0.999", Adam.adam(1e-3).hyperparameters().get("beta2"));
    assertEquals("1.0E-8", Adam.adam(1e-3).hyperparameters().get("eps"));
    assertEquals("0.0", Adam.adam(1e-3).hyperparameters().get("weight_decay"));
    assertEquals("adamw", Adam.adamW(1e-3).kind());
    assertEquals("0.01", Adam.adamW(1e-3).hyperparameters().get("weight_decay"));
  }

  @Test
  void invalidSettingsAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> new Adam(-1, 0.9, 0.999, 1e-8, 0, false));
    assertThrows(IllegalArgumentException.class, () -> new Adam(1e-3, 1.0, 0.999, 1e-8, 0, false));
    assertThrows(IllegalArgumentException.class, () -> new Adam(1e-3, 0.9, -0.1, 1e-8, 0, false));
    assertThrows(IllegalArgumentException.class, () -> new Adam(1e-3, 0.9, 0.999, -1, 0, false));
    assertThrows(IllegalArgumentException.class, () -> new Adam(1e-3, 0.9, 0.999, 1e-8, -0.1, true));
  }
}
