package io.sparkrnn.job.driver;

import io.sparkrnn.job.executor.GradientTask;
import java.io.Serializable;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.LongAccumulator;

/**
 * A Spark task over the slots RDD (one element per partition, ignored): runs {@code work} for its
 * partition on the executor with the job's fixed context and one broadcast input, and returns what
 * it gives. It captures the context, the broadcast, the work (a static method reference) and the
 * counter of shards done that the work adds to (null: none), nothing else. Prediction and
 * validation are such tasks.
 */
final class SlotTask<I, R> implements Function2<Integer, Iterator<Integer>, Iterator<R>> {
  private static final long serialVersionUID = 1L;

  /** What a partition computes from the context and the broadcast input. */
  interface Work<I, R> extends Serializable {
    /** {@code shardDone} runs once for each shard the partition has finished (progress lines count them). */
    List<R> run(GradientTask.Context context, I input, int partition, Runnable shardDone);
  }

  private final GradientTask.Context context;
  private final Broadcast<I> input;
  private final Work<I, R> work;
  private final LongAccumulator shardsDone;

  SlotTask(GradientTask.Context context, Broadcast<I> input, Work<I, R> work, LongAccumulator shardsDone) {
    this.context = context;
    this.input = input;
    this.work = work;
    this.shardsDone = shardsDone;
  }

  @Override
  public Iterator<R> call(Integer partition, Iterator<Integer> ignored) {
    LongAccumulator done = shardsDone;
    return work.run(context, input.value(), partition, done == null ? () -> { } : () -> done.add(1)).iterator();
  }
}
