package io.sparkrnn.kernel.engine;

import java.io.Serializable;

/**
 * Raw sums over a batch (or over many, after {@link #merge}): the loss sum, the gradient of that
 * sum with respect to every parameter (flat, laid out by {@code ParamLayout}), and the count of
 * loss terms (the divisor of the mean). Engines return sums; the driver divides once by the total
 * count, so N partitions of B sequences give exactly the mean over N·B sequences.
 *
 * <p>Sums are float64 so that merging many partitions adds no float32 rounding of its own.
 */
public final class GradientSum implements Serializable {
  private static final long serialVersionUID = 1L;

  private double lossSum;
  private long count;
  private final double[] gradient;

  public GradientSum(int parameterCount) {
    this.gradient = new double[parameterCount];
  }

  public GradientSum(double lossSum, long count, double[] gradient) {
    this.lossSum = lossSum;
    this.count = count;
    this.gradient = gradient;
  }

  public double lossSum() {
    return lossSum;
  }

  public long count() {
    return count;
  }

  /** The gradient of {@link #lossSum()}, live. */
  public double[] gradient() {
    return gradient;
  }

  /** Adds a batch's loss sum and count; the caller adds its gradient into {@link #gradient()}. */
  public void addLoss(double loss, long terms) {
    lossSum += loss;
    count += terms;
  }

  /**
   * this += other. Returns this.
   *
   * @throws IllegalStateException sums of different parameter counts: the sums of one step all come
   *     from the same model, so this is a bug, never bad input (the CLI prints its stack trace, exit 1)
   */
  public GradientSum merge(GradientSum other) {
    if (other.gradient.length != gradient.length) {
      throw new IllegalStateException("cannot merge gradients of " + other.gradient.length + " and " + gradient.length + " parameters");
    }
    lossSum += other.lossSum;
    count += other.count;
    for (int i = 0; i < gradient.length; i++) {
      gradient[i] += other.gradient[i];
    }
    return this;
  }

  /** The mean loss, lossSum / count. */
  public double meanLoss() {
    return lossSum / count;
  }

  /** The gradient of the mean loss, as float32 for the optimizer. */
  public float[] meanGradient() {
    if (count == 0) {
      throw new IllegalStateException("no loss terms: the batch had no valid steps");
    }
    float[] g = new float[gradient.length];
    for (int i = 0; i < g.length; i++) {
      g[i] = (float) (gradient[i] / count);
    }
    return g;
  }
}
