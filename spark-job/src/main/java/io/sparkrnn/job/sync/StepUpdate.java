package io.sparkrnn.job.sync;

import io.sparkrnn.job.TrainConfig;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.optim.Adam;
import io.sparkrnn.kernel.optim.GradientClipping;
import io.sparkrnn.kernel.optim.Optimizer;
import io.sparkrnn.kernel.optim.Sgd;
import java.io.Serializable;

/**
 * One optimizer step from a step's merged sums: mean, clip, NaN policy, learning rate, update.
 * Under {@code --sync job} the driver runs it; under {@code --sync barrier} every task runs it on
 * its own copy of the parameters. It is one piece of code on purpose: both modes, and every
 * replica, then do the same float operations in the same order and end with the same bits.
 */
public final class StepUpdate implements Serializable {
  private static final long serialVersionUID = 1L;

  /** What a step did. */
  public enum Status {
    /** the optimizer updated the parameters */
    APPLIED,
    /** the window held no valid time step (all padding): no update */
    EMPTY,
    /** loss or gradient not finite under --on-nan skip: no update */
    SKIPPED,
    /** loss or gradient not finite under --on-nan stop: training must stop */
    NONFINITE
  }

  /**
   * One completed step as the driver logs it.
   *
   * @param step the number of steps completed after it (1-based)
   * @param nanos its wall time; under barrier sync the first step of a segment also carries the
   *     segment's launch and return, so the times of a run add up to its wall time
   * @param computeNanos the slowest partition's gradient computation
   * @param reduceNanos adding the partitions' sums and returning the total: under barrier sync
   *     partition 0's time in the tree less its wait for a slower partition's compute; under job
   *     sync the driver's merge
   * @param updateNanos the clip and optimizer step
   */
  public record StepRecord(long step, Status status, double loss, double norm, long nanos, long computeNanos, long reduceNanos,
      long updateNanos) implements Serializable {
    private static final long serialVersionUID = 1L;

    public StepRecord withNanos(long newNanos) {
      return new StepRecord(step, status, loss, norm, newNanos, computeNanos, reduceNanos, updateNanos);
    }
  }

  /** The outcome of {@link #apply}: status, mean loss and the gradient's global norm before clipping. */
  public record Outcome(Status status, double loss, double norm) {}

  private final TrainConfig config;
  private final long totalSteps;

  public StepUpdate(TrainConfig config, long totalSteps) {
    this.config = config;
    this.totalSteps = totalSteps;
  }

  public Optimizer newOptimizer() {
    return switch (config.optimizer()) {
      case "sgd" -> new Sgd(config.lr(), config.momentum(), 0, config.weightDecay(), false);
      case "adamw" -> new Adam(config.lr(), config.beta1(), config.beta2(), config.eps(), config.weightDecay(), true);
      default -> new Adam(config.lr(), config.beta1(), config.beta2(), config.eps(), config.weightDecay(), false);
    };
  }

  /**
   * Completes step {@code step} (0-based): g = sum / count, clipped to the global norm
   * {@code clip-norm}; then, if loss and norm are finite, the optimizer at this step's learning
   * rate updates {@code params} in place.
   */
  public Outcome apply(long step, GradientSum total, float[] params, Optimizer optimizer) {
    if (total.count() == 0) {
      return new Outcome(Status.EMPTY, Double.NaN, Double.NaN);
    }
    double loss = total.meanLoss();
    float[] grad = total.meanGradient();
    double norm = config.clipNorm() > 0 ? GradientClipping.clipByGlobalNorm(grad, config.clipNorm()) : GradientClipping.globalNorm(grad);
    if (!Double.isFinite(loss) || !Double.isFinite(norm)) {
      return new Outcome(config.onNan().equals("skip") ? Status.SKIPPED : Status.NONFINITE, loss, norm);
    }
    optimizer.setLearningRate(config.learningRate(step, totalSteps));
    optimizer.step(params, grad);
    return new Outcome(Status.APPLIED, loss, norm);
  }
}
