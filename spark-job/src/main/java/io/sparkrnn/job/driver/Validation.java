package io.sparkrnn.job.driver;

import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.Split;
import io.sparkrnn.job.executor.Broadcasts;
import io.sparkrnn.job.executor.ExecutorRuntime;
import io.sparkrnn.job.executor.GradientTask;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttEngine;
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
import org.apache.hadoop.fs.Path;
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
 * its next input (argmax one-hot for classes; for continuous values the output in the inputs'
 * units, as generation feeds it: {@code x' = (y·t_std + t_mean − i_mean) / i_std} on normalised
 * data, the output itself otherwise), and the loss is taken over those K steps only. Sequences
 * must have all T steps for the closed loop.
 */
public final class Validation {
  private Validation() {}

  /**
   * Sums over all validation shards; closedLoop is null without feedback, and null with
   * closedLoopRefused set where a shard's closed loop could not be run: the model's output, fed
   * back, is past float32's range in the inputs' units (the shard and why; the first such shard).
   */
  public record Result(LossStats teacherForced, LossStats closedLoop, String closedLoopRefused) implements Serializable {
    private static final long serialVersionUID = 1L;

    public Result(LossStats teacherForced, LossStats closedLoop) {
      this(teacherForced, closedLoop, null);
    }
  }

  /**
   * The broadcast part: parameters and the shards to score.
   *
   * @param fromStep teacher-forced scores count steps t ≥ fromStep only (seq2seq; 0: all)
   * @param tolerance mse rows within this absolute error are counted (NaN: not counted)
   * @param units the shards' normalisation (the closed loop feeds outputs back in the inputs' units), or null
   */
  public record Input(ModelConfig config, float[] params, int[] shards, int feedback, int fromStep, double tolerance,
      Normalization units) implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Training's validation: every step, no tolerance. */
    public Input(ModelConfig config, float[] params, int[] shards, int feedback, Normalization units) {
      this(config, params, shards, feedback, 0, Double.NaN, units);
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
    Input input = new Input(model, params.values().clone(), shards.stream().mapToInt(Integer::intValue).toArray(), feedback,
        context.dataset().manifest().normalization());
    Broadcast<Input> broadcast = sc.broadcast(input);
    sc.setJobDescription("spark-rnn validation");
    try {
      List<Result> parts = slots.mapPartitionsWithIndex(new SlotTask<>(context, broadcast, Validation::scoreAsList, null), false).collect();
      LossStats tf = new LossStats();
      LossStats cl = feedback > 0 ? new LossStats() : null;
      String refused = null;
      for (Result r : parts) {
        tf.merge(r.teacherForced());
        if (refused == null) {
          refused = r.closedLoopRefused();
        }
        if (cl != null && r.closedLoop() != null) {
          cl.merge(r.closedLoop());
        }
      }
      return refused == null ? new Result(tf, cl) : new Result(tf, null, refused);
    } finally {
      Broadcasts.destroy(broadcast);
    }
  }

  /** Scores the validation shards this partition owns. */
  /** {@link #score} as a {@link SlotTask}'s one result. */
  static List<Result> scoreAsList(GradientTask.Context context, Input in, int partition, Runnable shardDone) {
    return Collections.singletonList(score(context, in, partition, shardDone));
  }

  static Result score(GradientTask.Context context, Input in, int partition, Runnable shardDone) {
    LossStats tf = new LossStats(in.tolerance());
    LossStats cl = in.feedback() > 0 ? new LossStats() : null;
    Params params = new Params(in.config(), in.params());
    String refused = null;
    for (int s : in.shards()) {
      if (s % context.partitions() != partition) {
        continue;
      }
      Batch batch = ExecutorRuntime.shard(context.dataset(), s);
      boolean loop = cl != null && refused == null;   // after a refusal the closed-loop loss is not measured: no more loops
      String shardRefused = ExecutorRuntime.withEngine(context.engine(), context.device(), context.engineThreads(), engine -> {
        tf.add(in.config(), batch, engine.forward(params, batch, null).outputs(), in.fromStep());
        if (!loop) {
          return null;
        }
        String where = new Path(new Path(context.dataset().uri()), context.dataset().manifest().shards().get(s).file())
            .toString();
        try {
          cl.merge(closedLoop(in.config(), params, engine, batch, in.feedback(), in.units(), where));
          return null;
        } catch (Normalization.PastFloat32Exception e) {
          // the model's output fed back has no value in the inputs' units: a fact about the model, which training
          // reports and goes on (it ended the run and lost the step validated, a review); evaluate refuses
          return where + ": " + e.fact();
        }
      });
      if (shardRefused != null) {
        refused = shardRefused;
      }
      shardDone.run();
    }
    return refused == null ? new Result(tf, cl) : new Result(tf, null, refused);
  }

  /**
   * Closed-loop loss over the last K steps of each full-length sequence of the batch.
   *
   * @param units the batch's normalisation, or null: continuous outputs are fed back as generation
   *     feeds them ({@link #feedbackSampler})
   * @param where the shard, for the error when a sequence is short
   */
  static LossStats closedLoop(ModelConfig config, Params params, BpttEngine engine, Batch batch, int K,
      Normalization units, String where) {
    int T = batch.steps();
    if (batch.lengths() != null) {
      for (int b = 0; b < batch.batchSize(); b++) {
        if (batch.length(b) < T) {
          throw new BadInputException("feedback (--feedback, setFeedback): closed-loop validation needs sequences of all T=" + T
              + " steps; " + where + ": lengths[" + b + "] = " + batch.length(b) + " (a padded sequence; a prep without"
              + " --min-steps or setMinSteps makes full ones)");
        }
      }
    }
    Sampler sampler = feedbackSampler(config, units);
    ClosedLoop loop = Generator.closedLoop(params, engine, batch, T - K, K, sampler);
    Batch scored = new Batch(K, batch.batchSize(), batch.features(), new float[K * batch.batchSize() * batch.features()],
        loop.targets(), loop.classes(), null);
    return new LossStats().add(config, scored, loop.outputs(), 0);
  }

  /**
   * The closed loop's sampler, the one generation uses: argmax one-hot for classes; for continuous
   * outputs on normalised data the change from the targets' units to the inputs'
   * ({@link Normalization#feedBack}; outputs and inputs were scaled with different statistics, and
   * feeding the output as it is measured a loop that generation never runs: 2.7–4.5% under the
   * generated error on a trending series, a user audit), else the output itself.
   */
  public static Sampler feedbackSampler(ModelConfig config, Normalization units) {
    if (config.loss() == LossType.CROSS_ENTROPY) {
      return Sampler.argmax();
    }
    return units == null ? Sampler.identity() : Sampler.continuous(units::feedBack, "feedback in the inputs' units");
  }
}
