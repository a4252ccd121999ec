package io.sparkrnn.job.executor;

import java.io.Serializable;

/**
 * One partition's part of a step: raw sums over its sequences, the states they end the window
 * in (for truncated BPTT), and where and how the work ran.
 *
 * @param blocks the sums of the partition's run of virtual partitions, as the maximal nodes of the
 *     step's {@link CombineTree} inside that run (empty for a partition whose shard failed)
 * @param positions the positions, within the step's global batch, of this partition's sequences
 * @param finalH hidden states [L][positions.length][H] after the window, or null when not asked for
 * @param finalC LSTM cell states, likewise
 * @param device the engine and device that ran the kernels, as the engine reports it
 * @param executor Spark's executor id
 * @param dataError null, or why one of this partition's shards failed its checks
 *     ({@link ShardDataException}); the other fields are then empty
 */
public record PartitionResult(
    int partition, CombineTree.Block[] blocks, int[] positions, float[] finalH, float[] finalC, String device, String executor,
    long computeNanos, String dataError) implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The result of a partition whose shard failed its checks. */
  public static PartitionResult failed(int partition, String executor, String dataError) {
    return new PartitionResult(partition, new CombineTree.Block[0], new int[0], null, null, "idle", executor, 0, dataError);
  }
}
