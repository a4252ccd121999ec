package io.sparkrnn.kernel.generate;

import io.sparkrnn.kernel.model.State;

/**
 * What {@link Generator#generate} returns.
 *
 * @param steps N, the number of generated steps
 * @param batchSize B
 * @param outputSize O
 * @param outputs the head's outputs [N][B][O] (logits for class models); step 0 is the output at
 *     the primer's last step, step n &gt; 0 the output after feeding step n − 1 back
 * @param ids the sampled class ids [N][B] (id of (n, b) at {@code n * B + b}), or null for identity
 * @param finalState the state after the primer and the first N − 1 fed-back steps: to continue,
 *     feed step N − 1 (one-hot {@code ids} or the outputs) from this state
 */
public record Generation(int steps, int batchSize, int outputSize, float[] outputs, int[] ids, State finalState) {

  /** Index of (n, b, o) in {@link #outputs()}. */
  public int outputAt(int n, int b, int o) {
    return (n * batchSize + b) * outputSize + o;
  }

  /** The id sampled at step n for sequence b; only for class samplers. */
  public int id(int n, int b) {
    if (ids == null) {
      throw new IllegalStateException("identity generation has no class ids");
    }
    return ids[n * batchSize + b];
  }
}
