package io.sparkrnn.job;

import io.sparkrnn.kernel.engine.GradientSum;
import java.io.Serializable;

/**
 * One partition's part of a step: raw sums over its sequences, the states they end the window
 * in (for truncated BPTT), and where and how the work ran.
 *
 * @param positions the positions, within the step's global batch, of this partition's sequences
 * @param finalH hidden states [L][positions.length][H] after the window, or null when not asked for
 * @param finalC LSTM cell states, likewise
 * @param device the engine and device that ran the kernels, as the engine reports it
 * @param executor Spark's executor id
 * @param dataError null, or why one of this partition's shards failed its checks
 *     ({@link ShardDataException}); the other fields are then empty
 */
public record PartitionResult(
    int partition, GradientSum sum, int[] positions, float[] finalH, float[] finalC, String device, String executor,
    long computeNanos, String dataError) implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The result of a partition whose shard failed its checks. */
  public static PartitionResult failed(int partition, int gradientSize, String executor, String dataError) {
    return new PartitionResult(partition, new GradientSum(gradientSize), new int[0], null, null, "idle", executor, 0, dataError);
  }
}
