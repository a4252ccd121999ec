package io.sparkrnn.job.executor;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import java.util.HashMap;
import java.util.function.IntFunction;

/**
 * Gathers chosen sequences (shard, row) out of cached shards into one {@link Batch}, cut to a
 * time window [t0, t0 + k). Lengths inside the window are clamp(length − t0, 0, k); a sequence
 * that ended before the window contributes nothing but still carries its state.
 */
public final class SequenceSelection {
  private SequenceSelection() {}

  /**
   * @param shardOf returns the cached shard by its index
   * @param shards shard index of each chosen sequence
   * @param rows row of each chosen sequence in its shard
   * @param positions which of the chosen sequences to take, in order
   */
  public static Batch gather(ModelConfig config, IntFunction<Batch> shardOf, int[] shards, int[] rows, int[] positions,
      int windowStart, int windowSteps) {
    int n = positions.length;
    int F = config.inputSize();
    int O = config.outputSize();
    boolean seq = config.mode() == Mode.SEQ2SEQ;
    boolean classes = config.loss() == LossType.CROSS_ENTROPY;
    float[] x = new float[windowSteps * n * F];
    float[] y = classes ? null : new float[(seq ? windowSteps * n : n) * O];
    int[] ids = classes ? new int[seq ? windowSteps * n : n] : null;
    int[] lengths = new int[n];
    boolean allFull = true;
    // a step's sequences come from a few shards: look each up once (the lookup builds a string key),
    // not once per sequence
    HashMap<Integer, Batch> looked = new HashMap<>();
    for (int i = 0; i < n; i++) {
      Batch s = looked.computeIfAbsent(shards[positions[i]], shardOf::apply);
      int row = rows[positions[i]];
      int Bs = s.batchSize();
      if (windowStart + windowSteps > s.steps()) {
        throw new BadInputException("window [" + windowStart + ", " + (windowStart + windowSteps) + ") exceeds the shard's T=" + s.steps());
      }
      lengths[i] = Math.max(0, Math.min(s.length(row) - windowStart, windowSteps));
      allFull &= lengths[i] == windowSteps;
      float[] sx = s.x();
      float[] sy = s.targets();
      for (int t = 0; t < windowSteps; t++) {
        int src = (windowStart + t) * Bs + row;
        copy(sx, src * F, x, (t * n + i) * F, F);
        if (seq) {
          if (classes) {
            ids[t * n + i] = s.classes()[src];
          } else {
            copy(sy, src * O, y, (t * n + i) * O, O);
          }
        }
      }
      if (!seq) {
        if (classes) {
          ids[i] = s.classes()[row];
        } else {
          System.arraycopy(s.targets(), row * O, y, i * O, O);
        }
      }
    }
    return new Batch(windowSteps, n, F, x, y, ids, allFull ? null : lengths);
  }

  /** System.arraycopy, except for the few values of one time step (F = 1 is common), where a loop is cheaper than the call. */
  private static void copy(float[] src, int from, float[] dst, int to, int count) {
    if (count <= 8) {
      for (int k = 0; k < count; k++) {
        dst[to + k] = src[from + k];
      }
    } else {
      System.arraycopy(src, from, dst, to, count);
    }
  }
}
