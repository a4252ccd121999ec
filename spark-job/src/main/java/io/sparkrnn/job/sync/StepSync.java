package io.sparkrnn.job.sync;

import io.sparkrnn.job.sync.StepUpdate.StepRecord;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.optim.Optimizer;
import java.util.List;
import java.util.Set;
import org.apache.spark.api.java.JavaRDD;

/**
 * How a run's partitions meet and its update is applied: one implementation per {@code --sync}
 * mode ({@link BarrierSync}: a barrier segment of many steps whose tasks reduce in a tree
 * and each apply the update; {@link JobSync}: a Spark job per step, merged and applied on
 * the driver). Both add the partitions' sums in the same fixed tree and apply the same
 * {@link StepUpdate}, so they give the same bits; the trainer's loop (validation, checkpoints,
 * progress) is the same for both.
 */
public interface StepSync {
  /**
   * The training state between steps, replaced as the run advances.
   *
   * @param carriedH hidden states [L][B][H] carried into the next window (truncated BPTT), or null
   * @param carriedC LSTM cell states likewise, or null
   */
  record State(Params params, Optimizer optimizer, float[] carriedH, float[] carriedC) {}

  /**
   * What one advance did.
   *
   * @param records the steps completed, in order (one under job sync; a segment's under barrier
   *     sync, the first charged with the segment's launch), possibly none after a data error
   * @param dataError the formatted shard error that stopped training, or null
   */
  record Advanced(State state, List<StepRecord> records, String dataError) {}

  /**
   * Runs one or more steps from {@code step} (steps completed so far) on the partitions
   * {@code slots}; adds the devices that ran them to {@code devices}.
   */
  Advanced advance(JavaRDD<Integer> slots, long step, State state, Set<String> devices);
}
