package io.sparkrnn.job.executor;

import io.sparkrnn.data.Dataset;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.GroupedResult;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.broadcast.Broadcast;

/**
 * The executor side of one step: partition p of P computes its contiguous run of the step's V
 * virtual partitions ({@link VirtualPartitions}), gathers their sequences from the cached shards,
 * and returns the run's sums as {@link CombineTree} blocks. It captures the step's broadcast and
 * one small record holding the run's (the dataset's, {@link DatasetRef}), nothing else.
 */
public final class GradientTask implements Function2<Integer, Iterator<Integer>, Iterator<PartitionResult>> {
  private static final long serialVersionUID = 1L;

  /**
   * The fixed part of every step: where the data is, what runs it, and how shards are cached.
   *
   * @param virtualPartitions V, the leaves of the step's combine tree (training); validation and
   *     prediction split by shard and ignore it
   * @param engineThreads threads of the JVM engine in each task, or 0 for the engine's default
   */
  public record Context(DatasetRef data, String engine, String device, int partitions, int virtualPartitions, int engineThreads,
      ShardCache.Use cache) implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The dataset itself in the closure (tests, single-machine runs); Spark runs broadcast it ({@link DatasetRef}). */
    public Context(Dataset dataset, String engine, String device, int partitions, int virtualPartitions, int engineThreads,
        ShardCache.Use cache) {
      this(DatasetRef.of(dataset), engine, device, partitions, virtualPartitions, engineThreads, cache);
    }

    /** One virtual partition per partition, the engine's default threads, the default cache (tests, single-machine runs). */
    public Context(Dataset dataset, String engine, String device, int partitions) {
      this(dataset, engine, device, partitions, partitions, 0, ShardCache.Use.DEFAULT);
    }

    /**
     * Evaluation and prediction on Spark: the dataset broadcast (the caller {@link #release}s it),
     * one virtual partition per partition, the JVM engine on the task's CPUs as in training
     * ({@link ExecutorRuntime#engineThreads}), the default cache.
     */
    public static Context forScoring(JavaSparkContext sc, Dataset dataset, String engine, String device,
        int partitions) {
      int threads = ExecutorRuntime.engineThreads(sc.getConf(), sc.master(), partitions);   // before the broadcast: it may throw
      return new Context(DatasetRef.shared(sc, dataset), engine, device, partitions, partitions, threads, ShardCache.Use.DEFAULT);
    }

    public Dataset dataset() {
      return data.get();
    }

    /** Frees the dataset's broadcast once the jobs that use this context are done. */
    public void release() {
      data.release();
    }
  }

  private final Context context;
  private final Broadcast<StepInput> input;
  /** The next step's batch ({@link #lookahead}), whose shards are prefetched during this one, or null. */
  private final StepInput next;

  public GradientTask(Context context, Broadcast<StepInput> input, StepInput next) {
    this.context = context;
    this.input = input;
    this.next = next;
  }

  /**
   * Fault injection for tests (issue: NaN in one executor's gradient): with this Spark setting,
   * partition 0 puts a NaN into its gradient at that step (0-based).
   */
  public static final String INJECT_NAN_STEP = "spark.sparkrnn.test.injectNanAtStep";

  @Override
  public Iterator<PartitionResult> call(Integer partition, Iterator<Integer> ignored) {
    return Collections.singletonList(computeOnExecutor(context, input.value(), next == null ? List.of() : List.of(next), partition))
        .iterator();
  }

  /**
   * The partition's sums for one step inside a Spark task. A shard that fails its checks becomes
   * this partition's result (with {@link PartitionResult#dataError()} set) rather than a task
   * failure, so Spark does not retry what would fail the same way again.
   */
  public static PartitionResult computeOnExecutor(Context context, StepInput in, List<StepInput> ahead, int partition) {
    SparkEnv env = SparkEnv.get();
    String executor = env == null ? "driver" : env.executorId();
    PartitionResult result;
    try {
      result = compute(context, in, ahead, partition, executor);
    } catch (ShardDataException e) {
      return PartitionResult.failed(partition, executor, e.getMessage());
    } finally {
      ShardPlacement.observe(context.cache(), partition);
    }
    if (env != null && partition == 0 && TestHooks.step(env.conf(), INJECT_NAN_STEP) == in.step()) {
      result.blocks()[0].sum().gradient()[0] = Double.NaN;
    }
    return result;
  }

  /** The partition's sums for one step; usable without Spark (tests, single-machine runs). */
  public static PartitionResult compute(Context context, StepInput in, int partition, String executor) {
    return compute(context, in, List.of(), partition, executor);
  }

  /**
   * The partition's sums for one step, telling the shard cache which shards this and the
   * {@code ahead} steps read (the next one's are prefetched while this one computes).
   */
  static PartitionResult compute(Context context, StepInput in, List<StepInput> ahead, int partition, String executor) {
    long start = System.nanoTime();
    VirtualPartitions cut = new VirtualPartitions(in.sequences(), context.virtualPartitions());
    int firstLeaf = cut.firstLeaf(partition, context.partitions());
    int[] positions = positionsOf(cut, partition, context.partitions());
    ModelConfig config = in.config();
    boolean carry = in.h0() != null;
    ShardCache.Use use = context.cache();
    ShardCache.JVM.configure(use.size());
    List<int[]> upcoming = new ArrayList<>(ahead.size() + 1);
    upcoming.add(shardsRead(in, positions));
    for (StepInput a : ahead) {
      // a step of another batch size (none in a schedule today) has a cut of its own
      VirtualPartitions aheadCut = a.sequences() == in.sequences() ? cut : new VirtualPartitions(a.sequences(), context.virtualPartitions());
      upcoming.add(shardsRead(a, positionsOf(aheadCut, partition, context.partitions())));
    }
    String slot = Integer.toString(partition);
    ShardCache.JVM.plan(use.run(), slot, context.dataset(), upcoming);
    Batch batch = positions.length == 0 ? null : SequenceSelection.gather(config,
        s -> ShardCache.JVM.get(use.run(), context.dataset(), s), in.shards(), in.rows(), positions, in.windowStart(), in.windowSteps());
    // gathered: this step's shards may go now, the next step's are read while this one computes
    ShardCache.JVM.prefetch(use.run(), slot, context.dataset(), upcoming.subList(1, upcoming.size()));
    if (positions.length == 0) {
      return new PartitionResult(partition, new CombineTree.Block[0], positions, null, null, "idle", executor, 0, null);
    }
    // the engine's groups: this run's virtual partitions, as positions within the gathered batch
    int[] bounds = cut.bounds(partition, context.partitions());
    State initial = carry ? select(config, in.h0(), in.c0(), in.sequences(), positions) : null;
    Params params = new Params(config, in.params());
    String[] device = new String[1];
    GroupedResult r = ExecutorRuntime.withEngine(context.engine(), context.device(), context.engineThreads(), engine -> {
      GroupedResult result = engine.lossAndGradients(params, batch, initial, bounds);
      device[0] = engine.describe();
      return result;
    });
    // the groups' sums into the blocks; blocks releases r, so that the engine reuses its arrays
    CombineTree.Block[] blocks = CombineTree.blocks(cut.leaves(), firstLeaf, r).toArray(new CombineTree.Block[0]);
    float[] h = in.returnStates() ? r.finalState().h() : null;
    float[] c = in.returnStates() ? r.finalState().c() : null;
    return new PartitionResult(partition, blocks, positions, h, c, device[0], executor, System.nanoTime() - start, null);
  }

  /**
   * The engine's part of {@link #compute} for a task that holds the whole of a step's batch (P = 1),
   * without Spark and the shard cache: {@code lossAndGradients} over the batch's
   * {@code virtualPartitions} groups, then the blocks of the fixed tree ({@link CombineTree#blocks},
   * which gives the groups' arrays back). The benches time it beside {@code lossAndGradient}.
   */
  public static Runnable wholeBatchStep(BpttEngine engine, Params params, Batch batch, int virtualPartitions) {
    VirtualPartitions cut = new VirtualPartitions(batch.batchSize(), virtualPartitions);
    int[] bounds = cut.bounds(0, 1);
    return () -> CombineTree.blocks(cut.leaves(), 0, engine.lossAndGradients(params, batch, null, bounds));
  }

  /**
   * A step's batch as far as the shard cache needs it: its step, shards and rows, nothing else
   * (parameters and states null).
   */
  public static StepInput lookahead(long step, ModelConfig config, Schedule.Chosen chosen) {
    return new StepInput(step, config, null, chosen.shards(), chosen.rows(), 0, 0, null, null, false);
  }

  /** The distinct shards the sequences at {@code positions} of a step's batch read, in first-use order. */
  static int[] shardsRead(StepInput in, int[] positions) {
    LinkedHashSet<Integer> seen = new LinkedHashSet<>();
    for (int i : positions) {
      seen.add(in.shards()[i]);
    }
    return seen.stream().mapToInt(Integer::intValue).toArray();
  }

  /**
   * The positions in the step's global batch of this partition's sequences: its contiguous run of
   * virtual partitions, [start(⌊pV/P⌋), start(⌊(p+1)V/P⌋)) ({@link VirtualPartitions}).
   */
  static int[] positionsOf(VirtualPartitions cut, int partition, int partitions) {
    int from = cut.start(cut.firstLeaf(partition, partitions));
    int to = cut.start(cut.firstLeaf(partition + 1, partitions));
    return IntStream.range(from, to).toArray();
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
