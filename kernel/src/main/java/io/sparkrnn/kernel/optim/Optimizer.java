package io.sparkrnn.kernel.optim;

/**
 * Updates a flat parameter array from the gradient of the mean loss, in place.
 *
 * <p>Call order: create → ({@link #load})? → {@link #step}* , with {@link #state()} at any point
 * between steps for a checkpoint. The parameter count P is fixed by the first step (or by a loaded
 * state); every later call must pass arrays of that length. Not thread-safe; the driver owns one.
 *
 * <p>Resume is bit-identical: an optimizer built with the same hyperparameters, given
 * {@link #load} of a {@link #state()} taken after step k and the same parameters and gradients,
 * produces exactly the floats that the original produces from step k + 1 on.
 */
public interface Optimizer {

  /**
   * One update: {@code params} ← update(params, grad). {@code grad} [P] is read, never written.
   *
   * @throws IllegalArgumentException when the lengths differ from each other or from P
   */
  void step(float[] params, float[] grad);

  /**
   * Sets the learning rate used from the next {@link #step} on, as a PyTorch LR scheduler sets
   * {@code param_group["lr"]}; the driver's schedule computes it from the step number, so a
   * resumed run sets the same values.
   *
   * @throws IllegalArgumentException for a negative or non-finite rate
   */
  void setLearningRate(double lr);

  /** The number of completed {@link #step} calls (restored by {@link #load}). */
  long stepCount();

  /** A deep copy of the step counter, the hyperparameters and the buffers, for a checkpoint. */
  OptimizerState state();

  /**
   * Restores the step counter and buffers from a checkpoint. The hyperparameters of this instance
   * are kept (they come from the job configuration); those recorded in the state are for the
   * caller to compare and warn about.
   *
   * @throws IllegalArgumentException when the state belongs to another optimizer kind or its
   *     buffers have different lengths from each other
   */
  void load(OptimizerState state);

  /** The kind, as recorded in {@link OptimizerState#kind()}: "sgd", "adam" or "adamw". */
  String kind();
}
