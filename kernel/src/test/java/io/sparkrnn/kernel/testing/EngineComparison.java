package io.sparkrnn.kernel.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.ParamSpec;
import java.util.ArrayList;
import java.util.List;
import io.sparkrnn.kernel.model.State;

/**
 * Norm-wise comparison of a float32 engine with the float64 reference, shared by the engines'
 * tests. A failure names the quantity, both norms and the worst index with both values.
 */
public final class EngineComparison {
  /**
   * Norm-wise relative error allowed between float32 and float64: float32 rounds at 6e-8 relative,
   * and the tests' sums run over at most T·B·max(F, H, O) terms; the worst gradient error observed
   * (PoCL, the JVM pool, the JVM engine) is 4.5e-7, so 1e-4 leaves room without hiding an indexing
   * bug (which gives errors of order 1).
   */
  public static final double FLOAT32_REL_TOL = 1e-4;
  /** Norms below this are zero at float32 precision; the error is then taken relative to this floor. */
  public static final double NORM_FLOOR = 1e-6;

  private final String engine;

  /** @param engine how failures name the engine under test, e.g. "aparapi" or "jvm" */
  public EngineComparison(String engine) {
    this.engine = engine;
  }

  public void assertStatesClose(String what, State expected, State actual) {
    assertClose(what + " h", toDoubles(expected.h()), toDoubles(actual.h()));
    assertEquals(expected.c() == null, actual.c() == null, what + ": c present");
    if (expected.c() != null) {
      assertClose(what + " c", toDoubles(expected.c()), toDoubles(actual.c()));
    }
  }

  public void assertClose(String what, double[] expected, double[] actual) {
    assertEquals(expected.length, actual.length, what + ": length");
    double err = relativeError(expected, actual);
    if (err > FLOAT32_REL_TOL) {
      int worst = 0;
      for (int i = 0; i < expected.length; i++) {
        if (Math.abs(expected[i] - actual[i]) > Math.abs(expected[worst] - actual[worst])) {
          worst = i;
        }
      }
      fail(String.format("%s: relative error %.2e > %.0e; |ref|=%.4e |%s|=%.4e; worst index %d: ref %.6e %s %.6e",
          what, err, FLOAT32_REL_TOL, norm(expected), engine, norm(actual), worst, expected[worst], engine, actual[worst]));
    }
  }

  /**
   * Every parameter's gradient within FLOAT32_REL_TOL norm-wise; a failure names the worst
   * parameter and lists the error and both norms of each.
   */
  public void assertGradientsClose(String where, ParamLayout layout, double[] expected, double[] actual) {
    List<String> report = new ArrayList<>();
    double worst = -1;
    String worstName = null;
    for (ParamSpec spec : layout.specs()) {
      double[] e = slice(expected, spec);
      double[] a = slice(actual, spec);
      double err = relativeError(e, a);
      report.add(String.format("%s err=%.2e |ref|=%.4e |%s|=%.4e", spec.name(), err, norm(e), engine, norm(a)));
      if (err > worst) {
        worst = err;
        worstName = spec.name();
      }
    }
    if (worst > FLOAT32_REL_TOL) {
      fail(where + ": gradient of " + worstName + " is off by " + String.format("%.2e", worst) + " (tolerance "
          + FLOAT32_REL_TOL + "); per parameter: " + String.join("; ", report));
    }
  }

  /** ‖a − e‖ / max(‖e‖, NORM_FLOOR). */
  public static double relativeError(double[] expected, double[] actual) {
    double diff = 0;
    for (int i = 0; i < expected.length; i++) {
      double d = actual[i] - expected[i];
      diff += d * d;
    }
    return Math.sqrt(diff) / Math.max(norm(expected), NORM_FLOOR);
  }

  public static double norm(double[] v) {
    double s = 0;
    for (double d : v) {
      s += d * d;
    }
    return Math.sqrt(s);
  }

  public static double[] slice(double[] flat, ParamSpec spec) {
    double[] out = new double[spec.size()];
    System.arraycopy(flat, spec.offset(), out, 0, out.length);
    return out;
  }

  public static float[] toFloats(double[] d) {
    float[] f = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      f[i] = (float) d[i];
    }
    return f;
  }

  public static double[] toDoubles(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }
}
