package io.sparkrnn.kernel.engine;

import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;

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
