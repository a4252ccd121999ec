package io.sparkrnn.kernel.engine;

import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import java.util.Arrays;

/**
 * Forward and full backpropagation through time over one batch.
 *
 * <p>Call order: create → ({@link #forward} | {@link #lossAndGradient})* → {@link #close}. Not
 * thread-safe; one per executor JVM (the Aparapi engine holds compiled kernels and device buffers).
 * Engines return raw sums; averaging, clipping and the optimizer step belong to the caller.
 */
public interface BpttEngine extends AutoCloseable {

  /**
   * Runs the model over the batch.
   *
   * @param initial the state before step 0, or null for zeros
   */
  ForwardResult forward(Params params, Batch batch, State initial);

  /**
   * The loss sum over the batch's valid steps and its gradient with respect to every parameter.
   * With an initial state this is one truncated-BPTT window: the state is an input and receives
   * no gradient.
   *
   * @param initial the state before step 0, or null for zeros
   */
  BpttResult lossAndGradient(Params params, Batch batch, State initial);

  /**
   * {@link #lossAndGradient} with one sum per group of sequences [bounds[g], bounds[g+1]): each
   * group's sum is computed from that group alone, the same bits whatever the other groups are,
   * how many there are, or how many threads run them. This is what makes a training step's sum
   * independent of how its batch is spread over tasks and cores (the virtual partitions of
   * spark-job). This default runs each group as a batch of its own; engines that split a call
   * themselves (the JVM engine's slices) take the groups as their split instead.
   *
   * <p>The result's sums are the caller's; a caller that has read them may call
   * {@link GroupedResult#release()} so that the engine reuses their arrays (the JVM engine does), and
   * reads nothing of them after that.
   *
   * @param bounds 0 = bounds[0] &lt; bounds[1] &lt; … &lt; bounds[G] = B
   */
  default GroupedResult lossAndGradients(Params params, Batch batch, State initial, int[] bounds) {
    checkGroups(bounds, batch.batchSize());
    int groups = bounds.length - 1;
    GradientSum[] sums = new GradientSum[groups];
    State end = null;
    for (int g = 0; g < groups; g++) {
      Batch part = batch.sequences(params.config(), bounds[g], bounds[g + 1]);
      BpttResult r = lossAndGradient(params, part, initial == null ? null : initial.sequences(bounds[g], bounds[g + 1]));
      sums[g] = r.gradients();
      if (end == null) {
        end = State.zeros(params.config(), batch.batchSize());
      }
      end.put(bounds[g], r.finalState());
    }
    return new GroupedResult(sums, end);
  }

  /** Refuses group bounds that do not cut [0, B) into non-empty runs. */
  static void checkGroups(int[] bounds, int batchSize) {
    if (bounds.length < 2 || bounds[0] != 0 || bounds[bounds.length - 1] != batchSize) {
      throw new IllegalArgumentException("group bounds must run from 0 to B = " + batchSize + ", found " + Arrays.toString(bounds));
    }
    for (int g = 0; g + 1 < bounds.length; g++) {
      if (bounds[g] >= bounds[g + 1]) {
        throw new IllegalArgumentException("group bounds must increase, found " + Arrays.toString(bounds));
      }
    }
  }

  /**
   * Bytes of the buffers the engine keeps between calls (host arrays; the Aparapi engine's device
   * buffers mirror its host arrays), or −1 where the engine does not count them. Buffers grow to
   * the largest shape seen and are reused, so this is the working memory of the largest call so
   * far. Not counted: what a call returns (gradient, outputs, final state).
   */
  default long workingBytes() {
    return -1;
  }

  /** A short name of the engine and the device that ran its last call, e.g. "reference (float64, JVM)". */
  String describe();

  @Override
  void close();
}
