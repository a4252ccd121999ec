package io.sparkrnn.job.sync;

import io.sparkrnn.job.executor.Broadcasts;
import io.sparkrnn.job.executor.GradientTask;
import io.sparkrnn.job.executor.PartitionResult;
import io.sparkrnn.job.executor.Schedule;
import io.sparkrnn.job.executor.ShardDataException;
import io.sparkrnn.job.executor.StepInput;
import io.sparkrnn.job.sync.StepUpdate.StepRecord;
import io.sparkrnn.kernel.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * {@code --sync job}: a Spark job per step ({@link GradientTask} on every partition); the driver
 * merges the partitions' sums in the fixed tree ({@link StepMerge}) and applies the update
 * ({@link StepUpdate}).
 */
public final class JobSync implements StepSync {
  private final JavaSparkContext sc;
  private final GradientTask.Context context;
  private final StepUpdate update;
  private final ModelConfig model;
  private final Schedule schedule;
  private final long totalSteps;

  public JobSync(JavaSparkContext sc, GradientTask.Context context, StepUpdate update, ModelConfig model, Schedule schedule,
      long totalSteps) {
    this.sc = sc;
    this.context = context;
    this.update = update;
    this.model = model;
    this.schedule = schedule;
    this.totalSteps = totalSteps;
  }

  @Override
  public Advanced advance(JavaRDD<Integer> slots, long step, State state, Set<String> devices) {
    long t0 = System.nanoTime();
    sc.setJobDescription("spark-rnn train step " + (step + 1) + "/" + totalSteps);
    Schedule.Chosen chosen = schedule.sequences(step);
    boolean carry = schedule.windowsPerBatch() > 1;
    boolean fresh = schedule.startsBatch(step);
    StepInput input = new StepInput(step, model, state.params().values().clone(), chosen.shards(), chosen.rows(),
        schedule.windowStart(step), schedule.windowLength(step), carry && !fresh ? state.carriedH() : null,
        carry && !fresh ? state.carriedC() : null, carry);
    StepInput next = step + 1 < totalSteps ? GradientTask.lookahead(step + 1, model, schedule.sequences(step + 1)) : null;
    List<PartitionResult> results = computeStep(sc, slots, context, input, next);
    long mergeStart = System.nanoTime();
    StepMerge merged = StepMerge.of(model, results, context.virtualPartitions(), input.sequences(), carry, devices);
    long reduceNanos = System.nanoTime() - mergeStart;
    long updateStart = System.nanoTime();
    StepUpdate.Outcome o = update.apply(step, merged.total(), state.params().values(), state.optimizer());
    long updateNanos = System.nanoTime() - updateStart;
    State after = carry ? new State(state.params(), state.optimizer(), merged.carriedH(), merged.carriedC()) : state;
    return new Advanced(after, List.of(new StepRecord(step + 1, o.status(), o.loss(), o.norm(), System.nanoTime() - t0,
        merged.computeNanos(), reduceNanos, updateNanos)), null);
  }

  /**
   * Runs one step's gradient job: broadcast the input, compute every partition's sums, destroy the
   * broadcast. Results come back sorted by partition, so merging them in list order is
   * deterministic whatever order the tasks finished in.
   */
  public static List<PartitionResult> computeStep(JavaSparkContext sc, JavaRDD<Integer> slots, GradientTask.Context context,
      StepInput input, StepInput next) {
    Broadcast<StepInput> broadcast = sc.broadcast(input);
    try {
      List<PartitionResult> results = new ArrayList<>(slots.mapPartitionsWithIndex(new GradientTask(context, broadcast, next), false).collect());
      String dataError = StepMerge.sortAndFindDataError(results, input.step());
      if (dataError != null) {
        throw new ShardDataException(dataError);
      }
      return results;
    } finally {
      Broadcasts.destroy(broadcast);
    }
  }
}
