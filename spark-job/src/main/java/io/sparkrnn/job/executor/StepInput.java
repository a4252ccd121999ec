package io.sparkrnn.job.executor;

import io.sparkrnn.kernel.model.ModelConfig;
import java.io.Serializable;

/**
 * What the driver broadcasts for one synchronous step: the parameters and this step's global
 * batch, as a list of (shard, row) pairs, plus the truncated-BPTT window and the states carried
 * into it. Each partition computes the pairs whose shard it owns.
 *
 * @param params the flat parameters (ParamLayout order)
 * @param shards shard index (into the manifest's shard list) of each sequence of the global batch
 * @param rows row b of that shard
 * @param windowStart first time step of this step's window (0 without truncated BPTT)
 * @param windowSteps steps in the window (T without truncated BPTT)
 * @param h0 carried hidden state [L][n][H] for the n sequences of the batch, in batch order, or null for zeros
 * @param c0 carried LSTM cell state [L][n][H], or null
 * @param returnStates whether partitions return their final states (truncated BPTT carries them on)
 */
public record StepInput(
    long step, ModelConfig config, float[] params, int[] shards, int[] rows, int windowStart, int windowSteps,
    float[] h0, float[] c0, boolean returnStates) implements Serializable {
  private static final long serialVersionUID = 1L;

  public int sequences() {
    return shards.length;
  }
}
