package io.sparkrnn.job.driver;

import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.Split;
import io.sparkrnn.job.executor.ExecutorRuntime;
import io.sparkrnn.job.executor.GradientTask;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.LossStats;
import io.sparkrnn.kernel.generate.ClosedLoop;
import io.sparkrnn.kernel.generate.Generator;
import io.sparkrnn.kernel.generate.Sampler;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * Validation on the dataset's validation shards, as a Spark job over the same partitions as
 * training (shard s on partition s mod P, so executors reuse their cache).
 *
 * <p>Teacher-forced: the model reads the true inputs at every step; loss and (classes) accuracy
 * over all valid steps. Closed loop (with {@code feedback} K > 0, seq2seq models with F == O):
 * the first T − K steps are driven by the true inputs, then for K steps the model's own output is
 * its next input (argmax one-hot for classes, the output itself for continuous values), and the
 * loss is taken over those K steps only. Sequences must have all T steps for the closed loop.
 */
public final class Validation {
  private Validation() {}

  /** Sums over all validation shards; closedLoop is null without feedback. */
  public record Result(LossStats teacherForced, LossStats closedLoop) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /** The broadcast part: parameters and the shards to score. */
  /**
   * @param fromStep teacher-forced scores count steps t ≥ fromStep only (seq2seq; 0: all)
   * @param tolerance mse rows within this absolute error are counted (NaN: not counted)
   */
  public record Input(ModelConfig config, float[] params, int[] shards, int feedback, int fromStep, double tolerance)
      implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Training's validation: every step, no tolerance. */
    public Input(ModelConfig config, float[] params, int[] shards, int feedback) {
      this(config, params, shards, feedback, 0, Double.NaN);
    }
  }

  /** Returns null when the dataset has no validation split. */
  public static Result run(JavaSparkContext sc, JavaRDD<Integer> slots, GradientTask.Context context, ModelConfig model,
      Params params, int feedback) {
    List<ShardInfo> all = context.dataset().manifest().shards();
    List<Integer> shards = new ArrayList<>();
    for (int i = 0; i < all.size(); i++) {
      if (all.get(i).split() == Split.VALIDATION) {
        shards.add(i);
      }
    }
    if (shards.isEmpty()) {
      return null;
    }
    Input input = new Input(model, params.values().clone(), shards.stream().mapToInt(Integer::intValue).toArray(), feedback);
    Broadcast<Input> broadcast = sc.broadcast(input);
    sc.setJobDescription("spark-rnn validation");
    try {
      List<Result> parts = slots.mapPartitionsWithIndex(new SlotTask<>(context, broadcast, Validation::scoreAsList), false).collect();
      LossStats tf = new LossStats();
      LossStats cl = feedback > 0 ? new LossStats() : null;
      for (Result r : parts) {
        tf.merge(r.teacherForced());
        if (cl != null) {
          cl.merge(r.closedLoop());
        }
      }
      return new Result(tf, cl);
    } finally {
      broadcast.destroy();
    }
  }

  /** Scores the validation shards this partition owns. */
  /** {@link #score} as a {@link SlotTask}'s one result. */
  static List<Result> scoreAsList(GradientTask.Context context, Input in, int partition) {
    return Collections.singletonList(score(context, in, partition));
  }

  static Result score(GradientTask.Context context, Input in, int partition) {
    LossStats tf = new LossStats(in.tolerance());
    LossStats cl = in.feedback() > 0 ? new LossStats() : null;
    Params params = new Params(in.config(), in.params());
    for (int s : in.shards()) {
      if (s % context.partitions() != partition) {
        continue;
      }
      Batch batch = ExecutorRuntime.shard(context.dataset(), s);
      ExecutorRuntime.withEngine(context.engine(), context.device(), context.engineThreads(), engine -> {
        tf.add(in.config(), batch, engine.forward(params, batch, null).outputs(), in.fromStep());
        if (cl != null) {
          cl.merge(closedLoop(in.config(), params, engine, batch, in.feedback()));
        }
        return null;
      });
    }
    return new Result(tf, cl);
  }

  /** Closed-loop loss over the last K steps of each full-length sequence of the batch. */
  static LossStats closedLoop(ModelConfig config, Params params, io.sparkrnn.kernel.engine.BpttEngine engine, Batch batch, int K) {
    int T = batch.steps();
    if (batch.lengths() != null) {
      for (int b = 0; b < batch.batchSize(); b++) {
        if (batch.length(b) < T) {
          throw new BadInputException("feedback: closed-loop validation needs sequences of all T=" + T
              + " steps; sequence " + b + " of a validation shard has " + batch.length(b));
        }
      }
    }
    Sampler sampler = config.loss() == LossType.CROSS_ENTROPY ? Sampler.argmax() : Sampler.identity();
    ClosedLoop loop = Generator.closedLoop(params, engine, batch, T - K, K, sampler);
    Batch scored = new Batch(K, batch.batchSize(), batch.features(), new float[K * batch.batchSize() * batch.features()],
        loop.targets(), loop.classes(), null);
    return new LossStats().add(config, scored, loop.outputs(), 0);
  }
}
