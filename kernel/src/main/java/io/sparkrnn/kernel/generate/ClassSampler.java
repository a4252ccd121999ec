package io.sparkrnn.kernel.generate;

import io.sparkrnn.kernel.BadInputException;

/** A sampler that picks a class id from a row of logits; the id is fed back one-hot. */
public non-sealed interface ClassSampler extends Sampler {

  /**
   * Picks a class from {@code logits[offset .. offset + classes)}.
   *
   * @return an id in [0, classes)
   * @throws IllegalArgumentException when a logit is NaN
   */
  int pick(float[] logits, int offset, int classes);

  /** Argmax with ties to the lowest index. */
  ClassSampler ARGMAX = new ClassSampler() {
    @Override
    public int pick(float[] logits, int offset, int classes) {
      return argmaxOf(logits, offset, classes);
    }

    @Override
    public String describe() {
      return "argmax";
    }
  };

  /** The index of the largest of {@code logits[offset .. offset + classes)}, the first on ties. */
  static int argmaxOf(float[] logits, int offset, int classes) {
    int best = 0;
    float max = Float.NEGATIVE_INFINITY;
    for (int k = 0; k < classes; k++) {
      float z = logits[offset + k];
      if (Float.isNaN(z)) {
        throw new BadInputException("logit " + k + " is NaN");
      }
      if (z > max || k == 0) {
        max = z;
        best = k;
      }
    }
    return best;
  }
}
