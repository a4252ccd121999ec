package io.sparkrnn.kernel.optim;

import static io.sparkrnn.kernel.testing.NumericAssert.assertBitsEqual;
import static io.sparkrnn.kernel.testing.NumericAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class GradientClippingTest {
  /** One float32 rounding of the coefficient and one of each product. */
  static final double FLOAT32_TOL = 3e-7;

  @Test
  void normBelowMaxLeavesTheGradientUntouchedAndReturnsTheNorm() {
    float[] g = {0.3f, 0.4f};
    float[] before = g.clone();
    double norm = GradientClipping.clipByGlobalNorm(g, 1.0);
    assertEquals(Math.hypot(0.3f, 0.4f), norm, 1e-15);
    assertBitsEqual(before, g, "unclipped gradient");
  }

  @Test
  void normAboveMaxScalesByMaxOverNormPlusEpsilon() {
    float[] g = {3f, 4f, 0f};
    double norm = GradientClipping.clipByGlobalNorm(g, 1.0);
    assertEquals(5.0, norm, 0);
    double coef = 1.0 / (5.0 + 1e-6);                              // max_norm / (‖g‖ + 1e-6)
    assertClose(new double[] {3 * coef, 4 * coef, 0}, g, FLOAT32_TOL, "clipped gradient");
    assertTrue(GradientClipping.globalNorm(g) < 1.0, "the clipped norm is just under max_norm");
  }

  @Test
  void normEqualToMaxIsStillScaledByTheEpsilonAsInPyTorch() {
    float[] g = {2f, 0f};
    GradientClipping.clipByGlobalNorm(g, 2.0);
    assertClose(new double[] {2 * 2.0 / (2.0 + 1e-6), 0}, g, FLOAT32_TOL, "clipped at the boundary");
    assertTrue(g[0] < 2f);
  }

  @Test
  void zeroGradientStaysZero() {
    float[] g = new float[4];
    assertEquals(0.0, GradientClipping.clipByGlobalNorm(g, 1.0), 0);
    assertBitsEqual(new float[4], g, "zero gradient");
  }

  @Test
  void nonFiniteNormIsReturnedAndTheGradientLeftForTheDriver() {
    float[] withNan = {1f, Float.NaN, 100f};
    assertTrue(Double.isNaN(GradientClipping.clipByGlobalNorm(withNan, 1.0)));
    assertBitsEqual(new float[] {1f, Float.NaN, 100f}, withNan, "NaN gradient");
    float[] withInf = {1f, Float.POSITIVE_INFINITY};
    assertEquals(Double.POSITIVE_INFINITY, GradientClipping.clipByGlobalNorm(withInf, 1.0));
    assertBitsEqual(new float[] {1f, Float.POSITIVE_INFINITY}, withInf, "infinite gradient");
  }

  @Test
  void normBeyondFloat32RangeStillClips() {
    float[] g = {3e38f, 3e38f, 3e38f};                             // ‖g‖ ≈ 5.2e38 > Float.MAX_VALUE
    double norm = GradientClipping.clipByGlobalNorm(g, 1.0);
    assertTrue(Double.isFinite(norm) && norm > Float.MAX_VALUE);
    double c = 1 / Math.sqrt(3);
    assertClose(new double[] {c, c, c}, g, 1e-6, "clipped huge gradient");
  }

  @Test
  void invalidMaxNormIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> GradientClipping.clipByGlobalNorm(new float[1], 0));
    assertThrows(IllegalArgumentException.class, () -> GradientClipping.clipByGlobalNorm(new float[1], -1));
    assertThrows(IllegalArgumentException.class, () -> GradientClipping.clipByGlobalNorm(new float[1], Double.NaN));
    // "max_norm must be positive and finite": an infinite bound is a mistake, not "never clip"
    assertThrows(IllegalArgumentException.class, () -> GradientClipping.clipByGlobalNorm(new float[] {3f, 4f}, Double.POSITIVE_INFINITY));
  }
}
