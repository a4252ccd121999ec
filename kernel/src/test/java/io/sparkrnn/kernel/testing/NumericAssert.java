package io.sparkrnn.kernel.testing;

import static org.junit.jupiter.api.Assertions.fail;

/** Array assertions that report the worst index and both values, not a bare boolean. */
public final class NumericAssert {
  private NumericAssert() {}

  /** |actual − expected| ≤ tol · max(1, |expected|) everywhere. */
  public static void assertClose(double[] expected, float[] actual, double tol, String what) {
    if (expected.length != actual.length) {
      fail(what + ": expected " + expected.length + " values, found " + actual.length);
    }
    int worst = -1;
    double worstErr = 0;
    for (int i = 0; i < expected.length; i++) {
      double err = Math.abs(actual[i] - expected[i]) / Math.max(1.0, Math.abs(expected[i]));
      if (!(err <= worstErr) || worst < 0) {
        worstErr = err;
        worst = i;
      }
    }
    if (!(worstErr <= tol)) {
      fail(what + ": worst at index " + worst + ": expected " + expected[worst] + ", found " + actual[worst]
          + " (scaled error " + worstErr + " > " + tol + ")");
    }
  }

  public static void assertClose(float[] expected, float[] actual, double tol, String what) {
    double[] e = new double[expected.length];
    for (int i = 0; i < e.length; i++) {
      e[i] = expected[i];
    }
    assertClose(e, actual, tol, what);
  }

  /**
   * The relative error of the whole vector, {@link EngineComparison#relativeError} ‖actual − expected‖₂
   * / max(‖expected‖₂, {@link EngineComparison#NORM_FLOOR}) ≤ relTol: unlike {@link #assertClose}'s
   * per-element max(1, |expected|) floor, a small gradient (‖g‖ ≪ 1) gets a tolerance as tight as a
   * large one.
   */
  public static void assertNormwiseClose(double[] expected, float[] actual, double relTol, String what) {
    if (expected.length != actual.length) {
      fail(what + ": expected " + expected.length + " values, found " + actual.length);
    }
    double[] got = new double[actual.length];
    for (int i = 0; i < got.length; i++) {
      got[i] = actual[i];
    }
    double rel = EngineComparison.relativeError(expected, got);
    if (!(rel <= relTol)) {
      fail(String.format("%s: ‖actual − expected‖ / ‖expected‖ = %.3g > %.3g (‖expected‖ = %.3g)", what, rel, relTol,
          EngineComparison.norm(expected)));
    }
  }

  /** Bit for bit equal (NaNs compared by bits too). */
  public static void assertBitsEqual(float[] expected, float[] actual, String what) {
    if (expected.length != actual.length) {
      fail(what + ": expected " + expected.length + " values, found " + actual.length);
    }
    for (int i = 0; i < expected.length; i++) {
      if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
        fail(what + ": first difference at index " + i + ": expected " + expected[i] + ", found " + actual[i]);
      }
    }
  }

  public static void assertIntsEqual(int[] expected, int[] actual, String what) {
    if (expected.length != actual.length) {
      fail(what + ": expected " + expected.length + " values, found " + actual.length);
    }
    for (int i = 0; i < expected.length; i++) {
      if (expected[i] != actual[i]) {
        fail(what + ": first difference at index " + i + ": expected " + expected[i] + ", found " + actual[i]);
      }
    }
  }
}
