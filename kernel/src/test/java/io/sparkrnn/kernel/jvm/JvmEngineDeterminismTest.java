package io.sparkrnn.kernel.jvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sparkrnn.kernel.device.Engines;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.Fixtures;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * Bit-identical training needs the engine to give the same bits for the same call all the JVM's
 * life, also after the JIT compiles its loops. The JDK's lanewise EXP/TANH did not (Java code
 * first, SVML intrinsics after C2), so the engine computes e^x from basic operations.
 */
class JvmEngineDeterminismTest {
  /** Enough calls for C2 to compile the nonlinearities (the change showed at about call 118). */
  static final int CALLS = 400;
  /** A degree-7 Taylor polynomial after Cody–Waite reduction: a few float ulp (1 ulp ≈ 6e-8 relative). */
  static final double EXP_REL_TOL = 4e-7;

  @Test
  void theSameCallGivesTheSameBitsBeforeAndAfterTheJitCompilesIt() {
    assertTrue(MathKernels.vectorApiAvailable(), "surefire's argLine adds --add-modules=jdk.incubator.vector");
    ModelConfig config = new ModelConfig(CellType.LSTM, 1, 2, 16, 1, Mode.SEQ2SEQ, LossType.MSE);
    Params params = Params.initialize(config, 5);
    Batch batch = Fixtures.randomBatch(config, 12, 16, false, 6);
    try (BpttEngine engine = Engines.create("kernel", "jvm")) {
      double[] first = engine.lossAndGradient(params, batch, null).gradients().gradient().clone();
      for (int call = 1; call < CALLS; call++) {
        double[] g = engine.lossAndGradient(params, batch, null).gradients().gradient();
        if (!Arrays.equals(first, g)) {
          assertArrayEquals(first, g, "call " + call + " gave other bits than call 0");
        }
      }
    }
  }

  @Test
  void vectorExpIsWithinAFewUlpOfMathExp() {
    int V = FloatVector.SPECIES_PREFERRED.length();
    float[] x = new float[V];
    double worst = 0;
    float worstAt = 0;
    for (float v = -87f; v <= 88f; v += 0.01f * V) {
      for (int i = 0; i < V; i++) {
        x[i] = v + 0.01f * i;
      }
      float[] y = VectorKernels.exp(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, x, 0)).toArray();
      for (int i = 0; i < V; i++) {
        if (x[i] > 88f) {
          continue;
        }
        double want = Math.exp(x[i]);
        double rel = Math.abs(y[i] - want) / want;
        if (rel > worst) {
          worst = rel;
          worstAt = x[i];
        }
      }
    }
    if (worst > EXP_REL_TOL) {
      fail("worst relative error " + worst + " at x = " + worstAt);
    }
  }
}
