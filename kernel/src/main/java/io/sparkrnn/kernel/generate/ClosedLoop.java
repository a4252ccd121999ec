package io.sparkrnn.kernel.generate;

/**
 * What {@link Generator#closedLoop} returns: the model's outputs at the steps it drove itself,
 * and the batch's targets at the same steps, so the caller computes the closed-loop loss.
 *
 * @param firstStep n, the index in the batch of the first self-driven step
 * @param steps K, the number of self-driven steps (batch steps n .. n + K − 1)
 * @param batchSize B
 * @param outputSize O
 * @param outputs the head's outputs [K][B][O] at batch steps n .. n + K − 1
 * @param targets the batch's float targets [K][B][O] at those steps, or null when it has none
 * @param classes the batch's class ids [K][B] at those steps, or null when it has none
 */
public record ClosedLoop(int firstStep, int steps, int batchSize, int outputSize, float[] outputs, float[] targets, int[] classes) {

  /** Index of (k, b, o) in {@link #outputs()} and {@link #targets()}; k counts from {@link #firstStep()}. */
  public int outputAt(int k, int b, int o) {
    return (k * batchSize + b) * outputSize + o;
  }
}
