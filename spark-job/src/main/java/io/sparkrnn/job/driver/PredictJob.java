package io.sparkrnn.job.driver;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.data.Normalization;
import io.sparkrnn.data.ShardInfo;
import io.sparkrnn.data.spark.JobScope;
import io.sparkrnn.fs.HadoopFiles;
import io.sparkrnn.infer.Prediction;
import io.sparkrnn.job.executor.Broadcasts;
import io.sparkrnn.job.executor.ExecutorRuntime;
import io.sparkrnn.job.executor.GradientTask;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.LongAccumulator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Predict over a whole dataset as one Spark job: selected shard i (in manifest order) belongs to
 * partition i mod P; each task runs the model forward on its shards (from the zero state, one
 * forward per shard, exactly what a single machine does per shard, so the result does not depend
 * on P) and either writes one output file per shard into the output directory (named as the input
 * shard) or returns the outputs to the driver.
 */
public final class PredictJob {
  private static final Logger LOG = LoggerFactory.getLogger(PredictJob.class);

  private PredictJob() {}

  /** The broadcast part. {@code outDir} null: return outputs to the driver instead of writing. */
  public record Input(ModelConfig config, float[] params, Normalization normalization, List<String> vocabulary,
      int[] shards, String outDir, boolean modelUnits, Map<String, String> metadata) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /**
   * One shard's result: its B, its input steps T (a seq2one prediction's [B,O] shape does not carry
   * them, yet its lengths count input steps) and its prediction (null when written on the executor).
   */
  public record ShardResult(int shard, int sequences, int steps, Prediction prediction) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /** Runs the job; results come back sorted by shard index. The caller releases {@code context}. */
  public static List<ShardResult> run(JavaSparkContext sc, GradientTask.Context context, Input input) {
    List<Integer> slots = new ArrayList<>();
    for (int p = 0; p < context.partitions(); p++) {
      slots.add(p);
    }
    Broadcast<Input> broadcast = sc.broadcast(input);
    JobScope scope = JobScope.open(sc, "predict");    // the caller's job group and description kept
    try {
      scope.describe("spark-rnn predict");
      LongAccumulator shardsDone = scope.countUnits("shard", input.shards().length);
      scope.reportProgress(LOG::info);
      List<ShardResult> results = new ArrayList<>(sc.parallelize(slots, context.partitions())
          .mapPartitionsWithIndex(new SlotTask<>(context, broadcast, PredictJob::predict, shardsDone), false).collect());
      results.sort(Comparator.comparingInt(ShardResult::shard));
      return results;
    } finally {
      try {
        Broadcasts.destroy(broadcast);
      } finally {
        scope.close();
      }
    }
  }

  /** The shards of this partition: selected shard i goes to partition i mod P. */
  static List<ShardResult> predict(GradientTask.Context context, Input in, int partition, Runnable shardDone) {
    List<ShardResult> out = new ArrayList<>();
    Params params = new Params(in.config(), in.params());
    // one for the task: each new Configuration parses Hadoop's XML again (a user audit: ~95 ms a shard file)
    Configuration conf = new Configuration();
    for (int i = 0; i < in.shards().length; i++) {
      if (i % context.partitions() != partition) {
        continue;
      }
      int s = in.shards()[i];
      Batch batch = ExecutorRuntime.shard(context.dataset(), s);
      float[] outputs = ExecutorRuntime.withEngine(context.engine(), context.device(), context.engineThreads(),
          engine -> engine.forward(params, batch, null).outputs());
      ShardInfo info = context.dataset().manifest().shards().get(s);
      Prediction p;
      try {
        p = Prediction.of(in.config(), in.vocabulary(), in.normalization(), batch, outputs, in.modelUnits());
      } catch (Prediction.OutputPastFloat32Exception e) {
        throw new BadInputException(context.dataset().location() + "/" + info.file() + ": " + e.getMessage(), e);   // which shard's
      }
      if (in.outDir() == null) {
        out.add(new ShardResult(s, batch.batchSize(), batch.steps(), p));
        shardDone.run();
        continue;
      }
      try {
        HadoopFiles.write(in.outDir() + "/" + info.file(), p.toSafetensors(in.metadata()), conf);
        if (p.text() != null) {
          HadoopFiles.write(in.outDir() + "/" + textName(info.file()), Prediction.textLines(p.text()).getBytes(StandardCharsets.UTF_8), conf);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      out.add(new ShardResult(s, batch.batchSize(), batch.steps(), null));
      shardDone.run();
    }
    return out;
  }

  /** shard-00003.safetensors → shard-00003.txt */
  public static String textName(String shardFile) {
    return shardFile.replaceFirst("\\.safetensors$", "") + ".txt";
  }

  /**
   * Concatenates shard predictions along B, in shard order: [T, N, O] (seq2seq) or [N, O].
   * Lengths are concatenated too (a shard without them: its sequences have all of its input steps T,
   * also for seq2one, whose lengths count input steps).
   */
  public static Prediction concatenate(List<ShardResult> results) {
    int[] first = results.get(0).prediction().shape();
    boolean seq = first.length == 3;
    int T = seq ? first[0] : 1;
    int O = first[first.length - 1];
    int N = 0;
    boolean anyLengths = false;
    boolean anyIds = false;
    List<String> text = null;
    for (ShardResult r : results) {
      N += r.sequences();
      anyLengths |= r.prediction().lengths() != null;
      anyIds |= r.prediction().ids() != null;
      if (r.prediction().text() != null) {
        text = text == null ? new ArrayList<>() : text;
        text.addAll(r.prediction().text());
      }
    }
    float[] out = new float[T * N * O];
    int[] ids = anyIds ? new int[T * N] : null;
    int[] lengths = anyLengths ? new int[N] : null;
    int n0 = 0;
    for (ShardResult r : results) {
      Prediction p = r.prediction();
      int B = r.sequences();
      for (int t = 0; t < T; t++) {
        System.arraycopy(p.output(), t * B * O, out, (t * N + n0) * O, B * O);  // rows of step t: [B,O] block
        if (ids != null) {
          System.arraycopy(p.ids(), t * B, ids, t * N + n0, B);
        }
      }
      if (lengths != null) {
        if (p.lengths() != null) {
          System.arraycopy(p.lengths(), 0, lengths, n0, B);
        } else {
          Arrays.fill(lengths, n0, n0 + B, r.steps());
        }
      }
      n0 += B;
    }
    return new Prediction(seq ? new int[] {T, N, O} : new int[] {N, O}, out, ids, lengths, text);
  }
}
