package io.sparkrnn.kernel.generate;

import io.sparkrnn.kernel.BadInputException;
import java.util.SplittableRandom;

/**
 * Draws class k with probability softmax(z / T)_k = exp((z_k − max z) / T) / Σ_j exp((z_j − max z) / T),
 * computed in float64, by inverting the cumulative distribution at one uniform draw
 * u = nextDouble() · Σ. Temperatures ≤ {@link #ARGMAX_TEMPERATURE} are taken as T → 0, which is
 * argmax: the limit, computed without the 1/T overflow, and without consuming a random number.
 */
public final class SoftmaxSampler implements ClassSampler {
  /** At or below this temperature the sampler is argmax (see the class comment). */
  public static final double ARGMAX_TEMPERATURE = 1e-6;

  private final double temperature;
  private final long seed;
  private final SplittableRandom random;

  SoftmaxSampler(double temperature, long seed) {
    if (!(temperature >= 0) || Double.isInfinite(temperature)) {
      throw new BadInputException("softmax temperature must be ≥ 0 and finite, found " + temperature);
    }
    this.temperature = temperature;
    this.seed = seed;
    this.random = new SplittableRandom(seed);
  }

  public double temperature() {
    return temperature;
  }

  /** True when the temperature is so low that this sampler is argmax. */
  public boolean isArgmax() {
    return temperature <= ARGMAX_TEMPERATURE;
  }

  @Override
  public int pick(float[] logits, int offset, int classes) {
    int best = ClassSampler.argmaxOf(logits, offset, classes);     // also rejects NaN
    if (isArgmax()) {
      return best;
    }
    double max = logits[offset + best];
    if (Double.isInfinite(max)) {                                  // +∞ logit: all mass on it (or −∞ everywhere: uniform over none)
      return best;
    }
    double sum = 0;
    double[] weights = new double[classes];
    for (int k = 0; k < classes; k++) {
      weights[k] = Math.exp((logits[offset + k] - max) / temperature); // e^{(z_k − max z)/T} ∈ [0, 1]
      sum += weights[k];                                           // Σ ≥ 1 (the max contributes 1)
    }
    double u = random.nextDouble() * sum;                          // u ~ U[0, Σ)
    double cumulative = 0;
    for (int k = 0; k < classes; k++) {
      cumulative += weights[k];
      if (u < cumulative) {
        return k;
      }
    }
    return best;                                                   // rounding left u ≥ Σ: unreachable in practice
  }

  @Override
  public String describe() {
    return "softmax(temperature=" + temperature + ", seed=" + seed + (isArgmax() ? ", = argmax" : "") + ")";
  }
}
