package io.sparkrnn.job.sync;

import io.sparkrnn.job.executor.CombineTree;
import io.sparkrnn.job.executor.PartitionResult;
import io.sparkrnn.kernel.engine.GradientSum;
import io.sparkrnn.kernel.model.ModelConfig;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * The partitions' results of one step, merged: gradient sums added in the fixed
 * {@link CombineTree} over the step's virtual partitions (so the float64 sum is the same whatever
 * order tasks finished in, however many there were, and the same on the driver and in every
 * barrier task), and the carried states reassembled by batch position.
 *
 * @param carriedH hidden states [L][n][H] of the whole batch after the window, or null without carry
 * @param carriedC LSTM cell states likewise, or null
 */
public record StepMerge(GradientSum total, long computeNanos, float[] carriedH, float[] carriedC) {

  /** Sorts by partition; the first partition whose shard failed its checks, or null. */
  public static String sortAndFindDataError(List<PartitionResult> results, long step) {
    results.sort(Comparator.comparingInt(PartitionResult::partition));
    for (PartitionResult r : results) {
      if (r.dataError() != null) {
        return dataErrorMessage(step, r.partition(), r.executor(), r.dataError());
      }
    }
    return null;
  }

  /** What the driver reports when a partition's shard failed its checks at a step (0-based). */
  static String dataErrorMessage(long step, int partition, String executor, String dataError) {
    return "step " + (step + 1) + ", partition " + partition + " on executor " + executor + ": " + dataError
        + ". A shard that fails its checks fails the same way on every retry, so training stops without retrying; re-run"
        + " prep (or restore the shard), then continue with --resume";
  }

  /** How a partition's device is listed in the step's devices, or null for a partition that computed nothing. */
  static String deviceLine(PartitionResult r) {
    return "idle".equals(r.device()) ? null : "executor " + r.executor() + ": " + r.device();
  }

  /**
   * The step's total: the partitions' blocks combined in the fixed tree over the V virtual
   * partitions, the same bits for any partition count and arrival order. Consumes the blocks.
   */
  public static GradientSum total(List<PartitionResult> results, int virtualPartitions) {
    CombineTree.Reducer reducer = new CombineTree.Reducer(virtualPartitions);
    for (PartitionResult r : results) {
      for (CombineTree.Block b : r.blocks()) {
        reducer.add(b);
      }
    }
    return reducer.total();
  }

  /**
   * Merges results already sorted by partition; adds "executor E: device" of every partition
   * that computed something to {@code devices}.
   *
   * @param n sequences in the global batch
   * @param carry whether the window's final states carry into the next step (truncated BPTT)
   */
  public static StepMerge of(ModelConfig model, List<PartitionResult> sorted, int virtualPartitions, int n, boolean carry, Set<String> devices) {
    GradientSum total = total(sorted, virtualPartitions);
    long computeNanos = 0;
    for (PartitionResult r : sorted) {
      computeNanos = Math.max(computeNanos, r.computeNanos());
      String device = deviceLine(r);
      if (device != null) {
        devices.add(device);
      }
    }
    if (!carry) {
      return new StepMerge(total, computeNanos, null, null);
    }
    int L = model.numLayers(), H = model.hiddenSize();
    float[] h = new float[L * n * H];
    float[] c = model.cell().hasCellState() ? new float[L * n * H] : null;
    for (PartitionResult r : sorted) {
      place(L, n, H, r.positions(), r.finalH(), h);
      if (c != null) {
        place(L, n, H, r.positions(), r.finalC(), c);
      }
    }
    return new StepMerge(total, computeNanos, h, c);
  }

  /**
   * Copies states [L][m][H] of the sequences at {@code positions} (m of them) to their places in
   * the batch's states [L][n][H].
   */
  static void place(int L, int n, int H, int[] positions, float[] from, float[] to) {
    int m = positions.length;
    for (int l = 0; l < L; l++) {
      for (int i = 0; i < m; i++) {
        System.arraycopy(from, (l * m + i) * H, to, (l * n + positions[i]) * H, H);
      }
    }
  }

}
