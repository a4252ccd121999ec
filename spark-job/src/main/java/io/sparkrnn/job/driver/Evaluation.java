package io.sparkrnn.job.driver;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.spark.JobScope;
import io.sparkrnn.job.executor.Broadcasts;
import io.sparkrnn.job.executor.GradientTask;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.LossStats;
import io.sparkrnn.kernel.generate.Generator;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.LongAccumulator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Scores a trained model on data with {@link Validation}'s logic: teacher-forced loss and (classes)
 * accuracy over every valid step, and with feedback K the closed-loop loss over the last K steps.
 * Losses are in model units, the same mean the training loss is.
 */
public final class Evaluation {
  private static final Logger LOG = LoggerFactory.getLogger(Evaluation.class);

  private Evaluation() {}

  /**
   * The metrics; fields that do not apply are NaN (written as JSON null).
   *
   * @param loss teacher-forced mean loss
   * @param accuracy fraction of argmax hits (class models)
   * @param perplexity exp(loss) (class models: e^(mean cross-entropy in nats))
   * @param closedLoopLoss mean loss over the K self-driven steps (feedback K &gt; 0)
   * @param closedLoopAccuracy argmax hits over those steps (class models, K &gt; 0)
   * @param lossTerms the divisor of {@code loss}
   * @param rmse teacher-forced root mean squared error per output [O] (mse models; null for classes), in model units
   *     as {@link #of} makes it, in the data's units before normalisation after {@link #inUnitsOf}
   * @param mae teacher-forced mean absolute error per output [O], units as {@code rmse}
   */
  public record Metrics(double loss, double accuracy, double perplexity, double closedLoopLoss, double closedLoopAccuracy,
      long lossTerms, int feedback, int fromStep, double tolerance, double withinTolerance, double[] rmse, double[] mae) {

    static Metrics of(ModelConfig config, LossStats tf, LossStats cl, int feedback, int fromStep) {
      boolean classes = config.loss() == LossType.CROSS_ENTROPY;
      return new Metrics(tf.meanLoss(), classes ? tf.accuracy() : Double.NaN, classes ? Math.exp(tf.meanLoss()) : Double.NaN,
          cl == null ? Double.NaN : cl.meanLoss(), cl == null || !classes ? Double.NaN : cl.accuracy(), tf.lossCount(), feedback,
          fromStep, tf.tolerance(), tf.fractionWithinTolerance(), tf.rootMeanSquaredErrors(), tf.meanAbsoluteErrors());
    }

    /**
     * rmse and mae taken from model units to the units the targets had before normalisation: an
     * error scales by the target's std, d_raw = d · std_o (the mean cancels). {@code norm} is the
     * normalisation the targets were scored in (the dataset's); null or without target statistics:
     * the model's units are the data's, nothing changes.
     */
    public Metrics inUnitsOf(Normalization norm) {
      if (norm == null || norm.targetStd() == null || rmse == null) {
        return this;
      }
      double[] std = norm.targetStd();
      if (std.length != rmse.length) {
        throw new BadInputException("the normalisation has " + std.length + " target statistics, the model O="
            + rmse.length + " outputs");
      }
      double[] r = new double[rmse.length];
      double[] a = new double[mae.length];
      for (int o = 0; o < r.length; o++) {
        r[o] = rmse[o] * std[o];
        a[o] = mae[o] * std[o];
      }
      return new Metrics(loss, accuracy, perplexity, closedLoopLoss, closedLoopAccuracy, lossTerms, feedback, fromStep,
          tolerance, withinTolerance, r, a);
    }

    /** Keys loss, accuracy, perplexity, closed_loop_loss (null where they do not apply), and more. */
    public Map<String, Object> toJson() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("loss", orNull(loss));
      m.put("accuracy", orNull(accuracy));
      m.put("perplexity", orNull(perplexity));
      m.put("closed_loop_loss", orNull(closedLoopLoss));
      m.put("closed_loop_accuracy", orNull(closedLoopAccuracy));
      m.put("feedback", (long) feedback);
      m.put("loss_terms", lossTerms);
      m.put("from_step", (long) fromStep);
      m.put("tolerance", orNull(tolerance));
      m.put("within_tolerance", orNull(withinTolerance));
      m.put("rmse", list(rmse));
      m.put("mae", list(mae));
      return m;
    }

    /** A two-column table. */
    public String table() {
      return table(null);
    }

    /**
     * A two-column table; where {@code outputNames} names each of the O outputs (a table's target
     * columns), rmse and mae name them too: {@code rmse  temp 0.274…, load 0.0176…}.
     */
    public String table(List<String> outputNames) {
      boolean named = outputNames != null && rmse != null && outputNames.size() == rmse.length;
      StringBuilder sb = new StringBuilder();
      for (Map.Entry<String, Object> e : toJson().entrySet()) {
        Object v = e.getValue();
        if (named && v instanceof List<?> perOutput && (e.getKey().equals("rmse") || e.getKey().equals("mae"))) {
          StringBuilder byName = new StringBuilder();
          for (int o = 0; o < perOutput.size(); o++) {
            byName.append(o == 0 ? "" : ", ").append(outputNames.get(o)).append(' ')
                .append(perOutput.get(o) == null ? "-" : perOutput.get(o));
          }
          v = byName;
        }
        sb.append(String.format("%-22s %s%n", e.getKey(), v == null ? "-" : v));
      }
      return sb.toString();
    }

    private static Object list(double[] v) {
      if (v == null) {
        return null;
      }
      List<Object> l = new ArrayList<>();
      for (double d : v) {
        l.add(orNull(d));
      }
      return l;
    }

    private static Object orNull(double v) {
      return Double.isFinite(v) ? (Object) v : null;
    }
  }

  /**
   * One batch on this machine (a single shard file).
   *
   * @param units the batch's normalisation (the model's), or null: the closed loop feeds outputs back in the inputs' units
   * @param where the shard file, for errors
   */
  public static Metrics ofBatch(ModelConfig config, Params params, BpttEngine engine, Batch batch, int feedback, int fromStep,
      double tolerance, Normalization units, String where) {
    batch.validateFor(config, true);
    checkFromStep(fromStep, batch.steps());
    LossStats tf = new LossStats(tolerance).add(config, batch, engine.forward(params, batch, null).outputs(), fromStep);
    LossStats cl;
    try {
      cl = feedback > 0 ? checkedClosedLoop(config, params, engine, batch, feedback, units, where) : null;
    } catch (Normalization.PastFloat32Exception e) {   // in the words ofDataset's refusal has (a review)
      throw new BadInputException(closedLoopRefusal(feedback, where + ": " + e.fact()), e);
    }
    return Metrics.of(config, tf, cl, feedback, fromStep);
  }

  private static void checkFromStep(int fromStep, int T) {
    if (fromStep < 0 || fromStep >= T) {
      throw new BadInputException("--from-step " + fromStep + ": expected 0 ≤ K < T = " + T);
    }
  }

  /** Refuses --from-step and --feedback that sequences of T steps cannot take: callers check before Spark starts. */
  public static void checkSteps(ModelConfig config, int T, int feedback, int fromStep) {
    checkFromStep(fromStep, T);
    if (feedback > 0) {
      checkFeedback(config, T, feedback);
    }
  }

  /** The given shards of a dataset as a Spark job (shard s on partition s mod P). */
  public static Metrics ofDataset(JavaSparkContext sc, Dataset dataset, ModelConfig config, Params params, int[] shards,
      int feedback, int fromStep, double tolerance, String engine, String device, int partitions) {
    checkSteps(config, dataset.spec().steps(), feedback, fromStep);
    String chosenDevice = AutoDeviceJob.forScoring(sc, dataset, shards, config, engine, device, partitions);
    List<Integer> slots = new ArrayList<>();
    for (int p = 0; p < partitions; p++) {
      slots.add(p);
    }
    JobScope scope = JobScope.open(sc, "evaluate");   // the caller's job group and description kept
    Broadcast<Validation.Input> broadcast = null;
    GradientTask.Context context = null;
    try {
      scope.describe("spark-rnn evaluate");
      LongAccumulator shardsDone = scope.countUnits("shard", shards.length);
      scope.reportProgress(LOG::info);
      broadcast = sc.broadcast(new Validation.Input(config, params.values().clone(), shards, feedback, fromStep, tolerance,
          dataset.manifest().normalization()));
      context = GradientTask.Context.forScoring(sc, dataset, engine, chosenDevice, partitions);
      List<Validation.Result> parts = sc.parallelize(slots, partitions)
          .mapPartitionsWithIndex(new SlotTask<>(context, broadcast, Validation::scoreAsList, shardsDone), false).collect();
      LossStats tf = new LossStats(tolerance);
      LossStats cl = feedback > 0 ? new LossStats() : null;
      for (Validation.Result r : parts) {
        if (r.closedLoopRefused() != null) {   // evaluate is asked for the closed-loop loss: none is no result
          throw new BadInputException(closedLoopRefusal(feedback, r.closedLoopRefused()));
        }
        tf.merge(r.teacherForced());
        if (cl != null) {
          cl.merge(r.closedLoop());
        }
      }
      return Metrics.of(config, tf, cl, feedback, fromStep);
    } finally {
      try {   // whatever is freed, the scope closes: its progress thread and tag must not outlive the call
        if (broadcast != null) {
          Broadcasts.destroy(broadcast);
        }
        if (context != null) {
          context.release();
        }
      } finally {
        scope.close();
      }
    }
  }

  /** evaluate's refusal of a closed loop whose fed-back output is past float32: {@code why} names the shard. */
  static String closedLoopRefusal(int feedback, String why) {
    return "--feedback " + feedback + ": " + why + "; evaluate with --feedback 0, or a model trained without that feature";
  }

  private static LossStats checkedClosedLoop(ModelConfig config, Params params, BpttEngine engine, Batch batch, int K,
      Normalization units, String where) {
    checkFeedback(config, batch.steps(), K);
    return Validation.closedLoop(config, params, engine, batch, K, units, where);
  }

  /** K in [1, T − 1]: at least one teacher-forced step must come first. */
  static void checkFeedback(ModelConfig config, int T, int K) {
    if (K < 1 || K >= T) {
      throw new BadInputException("--feedback " + K + ": the closed loop needs 1 ≤ K < T = " + T
          + " (at least one teacher-forced step first)");
    }
    Generator.checkFits(config, Validation.feedbackSampler(config, null));
  }
}
