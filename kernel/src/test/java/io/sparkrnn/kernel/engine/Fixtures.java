package io.sparkrnn.kernel.engine;

import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.State;
import java.util.SplittableRandom;

/** Seeded random batches and states for gradient tests. */
public final class Fixtures {
  private Fixtures() {}

  /**
   * A random batch for the model: x ~ U(−1, 1); mse targets ~ U(−1, 1) or class ids uniform in
   * [0, O); with {@code variableLengths}, lengths uniform in [1, T] with sequence 0 kept at T so the
   * longest length is exercised.
   */
  public static Batch randomBatch(ModelConfig config, int steps, int batchSize, boolean variableLengths, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int F = config.inputSize(), O = config.outputSize();
    float[] x = new float[steps * batchSize * F];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (r.nextDouble() * 2 - 1);
    }
    int[] lengths = null;
    if (variableLengths) {
      lengths = new int[batchSize];
      for (int b = 0; b < batchSize; b++) {
        lengths[b] = b == 0 ? steps : 1 + r.nextInt(steps);
      }
    }
    int rows = config.mode() == Mode.SEQ2SEQ ? steps * batchSize : batchSize;
    if (config.loss() == LossType.MSE) {
      float[] y = new float[rows * O];
      for (int i = 0; i < y.length; i++) {
        y[i] = (float) (r.nextDouble() * 2 - 1);
      }
      return new Batch(steps, batchSize, F, x, y, null, lengths);
    }
    int[] y = new int[rows];
    for (int i = 0; i < y.length; i++) {
      y[i] = r.nextInt(O);
    }
    return new Batch(steps, batchSize, F, x, null, y, lengths);
  }

  /** A random state with entries ~ U(−0.5, 0.5), as a truncated-BPTT window would carry in. */
  public static State randomState(ModelConfig config, int batchSize, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    State s = State.zeros(config, batchSize);
    for (int i = 0; i < s.h().length; i++) {
      s.h()[i] = (float) (r.nextDouble() - 0.5);
      if (s.c() != null) {
        s.c()[i] = (float) (r.nextDouble() - 0.5);
      }
    }
    return s;
  }

  /** Float64 parameters ~ U(−0.6, 0.6): wider than the default init so that gates saturate a little. */
  public static double[] randomParams(int size, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    double[] p = new double[size];
    for (int i = 0; i < size; i++) {
      p[i] = (r.nextDouble() * 2 - 1) * 0.6;
    }
    return p;
  }
}
