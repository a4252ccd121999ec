package io.sparkrnn.kernel.optim;

import io.sparkrnn.kernel.BadInputException;

/** Shared argument checks of the optimizers. */
final class Optimizers {
  private Optimizers() {}

  /**
   * Checks that params and grad have one length, and that it equals {@code expected} when that is
   * ≥ 0 (the P of existing buffers). Returns P.
   */
  static int checkLengths(float[] params, float[] grad, int expected) {
    if (params.length != grad.length) {
      throw new BadInputException("params has " + params.length + " values but grad has " + grad.length);
    }
    if (expected >= 0 && params.length != expected) {
      throw new BadInputException("params has " + params.length + " values; this optimizer's state holds "
          + expected + " (a different model?)");
    }
    return params.length;
  }

  /** A learning rate for {@link Optimizer#setLearningRate}: finite and ≥ 0. */
  static double checkLearningRate(String kind, double lr) {
    if (!(lr >= 0) || Double.isInfinite(lr)) {
      throw new BadInputException(kind + " lr must be finite and ≥ 0, found " + lr);
    }
    return lr;
  }
}
