package io.sparkrnn.kernel.model;

import io.sparkrnn.kernel.BadInputException;

/**
 * The training loss and its reduction.
 *
 * <p>MSE: the mean of (y_hat - y)^2 over valid (t, b) and all O outputs, so its divisor is
 * (valid steps) * O. CROSS_ENTROPY: log-softmax fused with the negative log-likelihood of the
 * class id, the mean over valid (t, b) (seq2one: over b), so its divisor is the number of valid
 * steps. This matches PyTorch's {@code MSELoss()} and {@code CrossEntropyLoss()} with the default
 * reduction "mean".
 */
public enum LossType {
  MSE("mse"),
  CROSS_ENTROPY("cross_entropy");

  private final String id;

  LossType(String id) {
    this.id = id;
  }

  public String id() {
    return id;
  }

  /** Number of loss terms one valid (t, b) contributes to the mean's divisor. */
  public int termsPerStep(int outputSize) {
    return this == MSE ? outputSize : 1;
  }

  /** The loss named {@code s} (cross_entropy also as ce), in any case, surrounding spaces ignored. */
  public static LossType parse(String s) {
    String name = s == null ? "" : s.strip();
    for (LossType l : values()) {
      if (l.id.equalsIgnoreCase(name) || (l == CROSS_ENTROPY && name.equalsIgnoreCase("ce"))) {
        return l;
      }
    }
    throw new BadInputException("unknown loss '" + s + "', expected mse or cross_entropy");
  }
}
