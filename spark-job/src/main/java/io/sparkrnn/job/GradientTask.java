package io.sparkrnn.job;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.kernel.engine.GroupedResult;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import java.io.Serializable;
import java.util.Collections;
import java.util.Iterator;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.broadcast.Broadcast;

/**
 * The executor side of one step: partition p of P computes its contiguous run of the step's V
 * virtual partitions ({@link VirtualPartitions}), gathers their sequences from the cached shards,
 * and returns the run's sums as {@link CombineTree} blocks. It captures one broadcast and one
 * small record, nothing else.
 */
public final class GradientTask implements Function2<Integer, Iterator<Integer>, Iterator<PartitionResult>> {
  private static final long serialVersionUID = 1L;

  /**
   * The fixed part of every step: where the data is and what runs it.
   *
   * @param virtualPartitions V, the leaves of the step's combine tree (training); validation and
   *     prediction split by shard and ignore it
   * @param engineThreads threads of the JVM engine in each task, or 0 for the engine's default
   */
  public record Context(Dataset dataset, String engine, String device, int partitions, int virtualPartitions, int engineThreads)
      implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Evaluation and prediction: one virtual partition per partition, the engine's default threads. */
    public Context(Dataset dataset, String engine, String device, int partitions) {
      this(dataset, engine, device, partitions, partitions, 0);
    }
  }

  private final Context context;
  private final Broadcast<StepInput> input;

  public GradientTask(Context context, Broadcast<StepInput> input) {
    this.context = context;
    this.input = input;
  }

  /**
   * Fault injection for tests (issue: NaN in one executor's gradient): with this Spark setting,
   * partition 0 puts a NaN into its gradient at that step (0-based).
   */
  public static final String INJECT_NAN_STEP = "spark.sparkrnn.test.injectNanAtStep";

  @Override
  public Iterator<PartitionResult> call(Integer partition, Iterator<Integer> ignored) {
    return Collections.singletonList(computeOnExecutor(context, input.value(), partition)).iterator();
  }

  /**
   * The partition's sums for one step inside a Spark task. A shard that fails its checks becomes
   * this partition's result (with {@link PartitionResult#dataError()} set) rather than a task
   * failure, so Spark does not retry what would fail the same way again.
   */
  static PartitionResult computeOnExecutor(Context context, StepInput in, int partition) {
    SparkEnv env = SparkEnv.get();
    String executor = env == null ? "driver" : env.executorId();
    PartitionResult result;
    try {
      result = compute(context, in, partition, executor);
    } catch (ShardDataException e) {
      return PartitionResult.failed(partition, executor, e.getMessage());
    }
    if (env != null && partition == 0 && TestHooks.step(env.conf(), INJECT_NAN_STEP) == in.step()) {
      result.blocks()[0].sum().gradient()[0] = Double.NaN;
    }
    return result;
  }

  /** The partition's sums for one step; usable without Spark (tests, single-machine runs). */
  public static PartitionResult compute(Context context, StepInput in, int partition, String executor) {
    long start = System.nanoTime();
    VirtualPartitions cut = new VirtualPartitions(in.sequences(), context.virtualPartitions());
    int firstLeaf = cut.firstLeaf(partition, context.partitions());
    int endLeaf = cut.firstLeaf(partition + 1, context.partitions());
    int from = cut.start(firstLeaf);
    int[] positions = new int[cut.start(endLeaf) - from];
    for (int i = 0; i < positions.length; i++) {
      positions[i] = from + i;
    }
    if (positions.length == 0) {
      return new PartitionResult(partition, new CombineTree.Block[0], positions, null, null, "idle", executor, 0, null);
    }
    // the engine's groups: this run's virtual partitions, as positions within the gathered batch
    int[] bounds = new int[endLeaf - firstLeaf + 1];
    for (int i = 0; i < bounds.length; i++) {
      bounds[i] = cut.start(firstLeaf + i) - from;
    }
    ModelConfig config = in.config();
    boolean carry = in.h0() != null;
    Batch batch = SequenceSelection.gather(config, s -> ExecutorRuntime.shard(context.dataset(), s), in.shards(), in.rows(),
        positions, in.windowStart(), in.windowSteps());
    State initial = carry ? select(config, in.h0(), in.c0(), in.sequences(), positions) : null;
    Params params = new Params(config, in.params());
    String[] device = new String[1];
    GroupedResult r = ExecutorRuntime.withEngine(context.engine(), context.device(), context.engineThreads(), engine -> {
      GroupedResult result = engine.lossAndGradients(params, batch, initial, bounds);
      device[0] = engine.describe();
      return result;
    });
    CombineTree.Block[] blocks = CombineTree.blocks(cut.leaves(), firstLeaf, r.groups()).toArray(new CombineTree.Block[0]);
    float[] h = in.returnStates() ? r.finalState().h() : null;
    float[] c = in.returnStates() ? r.finalState().c() : null;
    return new PartitionResult(partition, blocks, positions, h, c, device[0], executor, System.nanoTime() - start, null);
  }

  /** Picks the carried states [L][n][H] of the given positions into a State [L][positions][H]. */
  static State select(ModelConfig config, float[] h0, float[] c0, int n, int[] positions) {
    int L = config.numLayers(), H = config.hiddenSize(), m = positions.length;
    float[] h = new float[L * m * H];
    float[] c = c0 == null ? null : new float[L * m * H];
    for (int l = 0; l < L; l++) {
      for (int i = 0; i < m; i++) {
        System.arraycopy(h0, (l * n + positions[i]) * H, h, (l * m + i) * H, H);
        if (c != null) {
          System.arraycopy(c0, (l * n + positions[i]) * H, c, (l * m + i) * H, H);
        }
      }
    }
    return new State(L, m, H, h, c);
  }
}
