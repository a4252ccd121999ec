package io.sparkrnn.job.sync;

import io.sparkrnn.data.spark.TableDataException;
import io.sparkrnn.fs.JvmShutdown;
import io.sparkrnn.job.executor.Broadcasts;
import io.sparkrnn.job.executor.CombineTree;
import io.sparkrnn.job.executor.ExecutorRuntime;
import io.sparkrnn.job.executor.GradientTask;
import io.sparkrnn.job.executor.PartitionResult;
import io.sparkrnn.job.executor.Schedule;
import io.sparkrnn.job.executor.ShardDataException;
import io.sparkrnn.job.executor.StepInput;
import io.sparkrnn.job.executor.TestHooks;
import io.sparkrnn.job.sync.StepUpdate.Status;
import io.sparkrnn.job.sync.StepUpdate.StepRecord;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.aparapi.DeviceFallbackException;
import io.sparkrnn.kernel.aparapi.DeviceUnavailableException;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.optim.Optimizer;
import io.sparkrnn.kernel.optim.OptimizerState;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.apache.spark.SparkThrowable;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.rdd.RDD;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;
import scala.reflect.ClassTag;
import scala.runtime.AbstractFunction1;

/**
 * {@code --sync barrier}: many synchronous steps per Spark job.
 *
 * <p>A Spark job per step costs a scheduling round trip (15–25 ms on local[2], more on a
 * cluster) however small the step. Here one barrier stage (all P tasks start together or not at
 * all) runs a <em>segment</em> of steps. In each step every task computes its partition's sums
 * exactly as under {@code --sync job} ({@link GradientTask#computeOnExecutor}); the tasks add
 * their sums up a tree among themselves ({@link TreeReduce}) in the fixed {@link CombineTree}
 * order, the driver ({@link GradientExchange}) takes the total from the tree's top and sends it
 * back down, so every task receives the same total; each task applies the same {@link StepUpdate} to its own copy of the parameters
 * and optimizer. Same inputs, same code, same order: every replica holds the same bits, and they
 * equal what the driver computes under {@code --sync job}. The driver checks the first claim at
 * the end of every segment (a hash of parameters and optimizer state from every task).
 *
 * <p>A segment ends at the next validation or checkpoint step, at the end of the run, or at the
 * first log step after {@link #MIN_SEGMENT_SECONDS}; partition 0 decides the last and its decision
 * comes back in the step's total, so every task stops after the same step. Progress lines are
 * printed when a segment returns.
 *
 * <p>Faults: when any task fails, Spark fails the whole barrier stage and reruns it from the
 * segment's broadcast start state, so the retried segment computes the same steps again and the
 * weights stay bit-identical. A shard that fails its checks or a non-finite step under
 * {@code --on-nan stop} ends the segment on every task at the same step and is reported by the
 * driver, as under {@code --sync job}.
 */
public final class BarrierTraining {
  /** A segment runs at least this long (unless a validation, checkpoint or the end comes first). */
  public static final double MIN_SEGMENT_SECONDS = 2.0;

  /**
   * Set while the driver's JVM shuts down (a signal): segments of this JVM end after their step in
   * flight, so the driver can write a checkpoint before the JVM ends. Tasks share the driver's JVM
   * on a local master only; on a cluster the exchange server ends them ({@link
   * GradientExchange.Server#endSegments}), and a one-partition segment there runs to its planned end.
   */
  private static final java.util.concurrent.atomic.AtomicInteger END_REQUESTS = new java.util.concurrent.atomic.AtomicInteger();

  /**
   * Asks this JVM's segments to end after their step in flight (true), or withdraws one such request
   * (false: each run withdraws its own, so two runs in one JVM do not cancel each other's); the bits
   * do not change.
   */
  public static void requestEnd(boolean end) {
    if (end) {
      END_REQUESTS.incrementAndGet();
    } else {
      END_REQUESTS.decrementAndGet();
    }
  }

  private BarrierTraining() {}

  /**
   * Where a segment starts and what it may run: steps [start, maxEnd), parameters and optimizer
   * state after step {@code start}.
   *
   * @param optimizerState {@link OptimizerState#toBytes()} or null for a fresh optimizer
   */
  public record SegmentInput(long segmentId, GradientExchange.Address exchange, long start, long maxEnd, long logEvery, long minSegmentNanos,
      ModelConfig model, float[] params, byte[] optimizerState, float[] carriedH, float[] carriedC, Schedule schedule, StepUpdate update)
      implements Serializable {
    private static final long serialVersionUID = 1L;

    public SegmentInput withSegmentId(long id) {
      return new SegmentInput(id, exchange, start, maxEnd, logEvery, minSegmentNanos, model, params, optimizerState, carriedH, carriedC,
          schedule, update);
    }

    /** The same segment, met at this exchange (null: one partition, no exchange). */
    SegmentInput withExchange(GradientExchange.Address address) {
      return new SegmentInput(segmentId, address, start, maxEnd, logEvery, minSegmentNanos, model, params, optimizerState, carriedH,
          carriedC, schedule, update);
    }
  }

  /**
   * What a task returns. Partition 0 returns everything; the others return only the step reached
   * and the hash of their state, which the driver compares with partition 0's.
   *
   * @param dataError the formatted shard error that stopped the segment, or null
   */
  public record SegmentResult(int partition, long end, int stateHash, float[] params, byte[] optimizerState, float[] carriedH,
      float[] carriedC, ArrayList<StepRecord> steps, TreeSet<String> devices, String dataError) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /**
   * Refuses configurations a barrier stage cannot run, before training starts: dynamic allocation
   * (Spark forbids barrier stages with it), and on a local master more partitions than threads
   * (a barrier stage needs every task running at once). On a cluster Spark itself waits for
   * enough slots ({@code spark.scheduler.barrier.maxConcurrentTasksCheck.*}, set in
   * {@code SparkSetup}) and then fails; {@link #explain} turns that into advice.
   */
  public static void checkCanRun(SparkConf conf, String master, int partitions) {
    if (conf.getBoolean("spark.dynamicAllocation.enabled", false)) {
      throw new BadInputException("sync: barrier needs a fixed set of executors, and spark.dynamicAllocation.enabled is true;"
          + " use --sync job, or turn dynamic allocation off");
    }
    int threads = ExecutorRuntime.localThreads(master);
    if (threads > 0 && partitions > threads) {
      throw new BadInputException("partitions: " + partitions + " under --sync barrier needs " + partitions
          + " tasks running at once, and " + master + " runs " + threads + "; use --partitions " + threads + " or fewer, a bigger"
          + " local master, or --sync job");
    }
  }

  /** Exceptions a task raises for what the user must fix (as {@code Main} classifies them): retrying cannot help. */
  static final List<String> USER_ERRORS = List.of(DeviceUnavailableException.class.getName(),
      DeviceFallbackException.class.getName(), BadInputException.class.getName(),
      ShardDataException.class.getName(), TableDataException.class.getName());

  /**
   * What to tell the user when a failed segment is theirs to fix, or null when it is something a
   * rerun may cure: Spark's barrier slot refusal becomes advice; a user error raised in a task
   * (a missing --device) becomes its own message.
   */
  public static String explain(Throwable failure, int partitions) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      String m = String.valueOf(t.getMessage());
      if (isSlotRefusal(m)) {
        // "never offered" was wrong after a worker lost mid-run: it had offered them (a review)
        return "sync barrier: the cluster does not offer " + partitions + " task slots at once (one per partition), or no"
            + " longer does (an executor or worker lost); use fewer --partitions, more executor cores, or --sync job. Spark"
            + " said: " + m;
      }
      // Spark aborts a failed barrier stage without the task's exception as cause; its text is in the message
      for (String type : USER_ERRORS) {
        int at = m.indexOf(type + ": ");
        if (at >= 0) {
          return firstLine(m.substring(at + type.length() + 2));
        }
      }
    }
    return null;
  }

  /** Spark 4.0: "[SPARK-24819]: Barrier execution mode does not allow run a barrier stage that requires more slots …" */
  private static boolean isSlotRefusal(String message) {
    return message.contains("SPARK-24819") || (message.contains("arrier") && message.contains("slots"));
  }

  /** Whether Spark refused the segment for want of task slots (executors lost, or never enough). */
  public static boolean slotsRefused(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (isSlotRefusal(String.valueOf(t.getMessage()))) {
        return true;
      }
    }
    return false;
  }

  /**
   * The cluster does not (or no longer) offer a segment's task slots: bad input (the settings or the cluster), which
   * the trainer completes with the checkpoint to resume from, as executors lost mid-run (a worker
   * killed: a cluster audit) leave one behind.
   */
  public static final class SlotsRefusedException extends BadInputException {
    private static final long serialVersionUID = 1L;

    public SlotsRefusedException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * Whether the failure is a cancellation, not a failure to retry: Spark fails a cancelled job (by
   * job group, tag, all jobs, the UI's kill of a job or stage) with error condition
   * SPARK_JOB_CANCELLED; an interrupt of the driver thread (a notebook's interrupt) comes out of
   * {@code runJob} as an InterruptedException with the thread's flag cleared and the job still
   * running, so the flag is set again here for the caller and whoever runs after it; a stopped
   * SparkContext fails its jobs with a plain SparkException ("cancelled because SparkContext was
   * shut down"), hence {@code stopped}; and a JVM shutting down (Ctrl-C, SIGTERM) is a stop.
   */
  public static boolean cancelled(Throwable failure, boolean stopped) {
    // a JVM shutting down stops the executors (local-cluster's too) before its SparkContext says it is stopped:
    // running the segment again then only printed a retry line after the "stopped:" one
    if (stopped || Thread.currentThread().isInterrupted() || JvmShutdown.inProgress()) {
      return true;
    }
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof InterruptedException || t instanceof InterruptedIOException
          || t instanceof ClosedByInterruptException) {
        Thread.currentThread().interrupt();
        return true;
      }
      if (t instanceof SparkThrowable s && "SPARK_JOB_CANCELLED".equals(s.getCondition())) {
        return true;
      }
    }
    return false;
  }

  /** The text up to the first line break: Spark's failure messages go on with the stack trace. */
  public static String firstLine(String s) {
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  /** Runs one segment on the cluster and returns partition 0's result, after checking that all replicas agree. */
  public static SegmentResult run(JavaSparkContext sc, JavaRDD<Integer> slots, GradientTask.Context context, GradientExchange.Server server,
      SegmentInput segmentInput) {
    // each segment (each attempt too) gets a fresh key; the address and, without Spark authentication, the key go in its broadcast
    SegmentInput input = server == null ? segmentInput
        : segmentInput.withExchange(server.open(segmentInput.segmentId(), segmentOf(segmentInput, context)));
    Broadcast<SegmentInput> broadcast = sc.broadcast(input);
    try {
      ClassTag<SegmentResult> tag = ClassTag$.MODULE$.apply(SegmentResult.class);
      RDD<SegmentResult> rdd = slots.rdd().barrier().mapPartitions(new SegmentTask(context, broadcast), false, tag);
      List<SegmentResult> results = new ArrayList<>(rdd.toJavaRDD().collect());
      results.sort(Comparator.comparingInt(SegmentResult::partition));
      SegmentResult first = results.get(0);
      for (SegmentResult r : results) {
        if (r.end() != first.end() || r.stateHash() != first.stateHash()) {
          throw new IllegalStateException("sync barrier: partition " + r.partition() + " ended the segment at step " + r.end()
              + " with state hash " + Integer.toHexString(r.stateHash()) + ", partition 0 at step " + first.end() + " with "
              + Integer.toHexString(first.stateHash()) + "; the replicas of the update disagree (a JVM or engine that is not"
              + " deterministic); --sync job applies the update once, on the driver");
        }
      }
      return first;
    } finally {
      Broadcasts.destroy(broadcast);
      if (server != null) {
        server.finish(input.segmentId());
      }
    }
  }

  static GradientExchange.Segment segmentOf(SegmentInput input, GradientTask.Context context) {
    Schedule schedule = input.schedule();
    return new GradientExchange.Segment(input.model(), context.partitions(), input.params().length, context.virtualPartitions(),
        schedule.batch(), schedule.windowsPerBatch() > 1);
  }

  /** The barrier task: runs the segment, reducing with the other tasks in the tree under the driver. */
  static final class SegmentTask extends AbstractFunction1<scala.collection.Iterator<Integer>, scala.collection.Iterator<SegmentResult>>
      implements Serializable {
    private static final long serialVersionUID = 1L;
    private final GradientTask.Context context;
    private final Broadcast<SegmentInput> input;

    SegmentTask(GradientTask.Context context, Broadcast<SegmentInput> input) {
      this.context = context;
      this.input = input;
    }

    @Override
    public scala.collection.Iterator<SegmentResult> apply(scala.collection.Iterator<Integer> ignored) {
      BarrierTaskContext task = BarrierTaskContext.get();
      SegmentInput in = input.value();
      if (context.partitions() == 1) {
        // a rendezvous of one is the identity: merge here, with the same code, and skip the round trip
        GradientExchange.Segment segment = segmentOf(in, context);
        try {
          SegmentResult r = runSegment(context, in, 0,
              (step, mine) -> GradientExchange.merge(segment, new GradientExchange.Message[] {mine}, step));
          return CollectionConverters.asScala(List.of(r).iterator());
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
      GradientExchange.Segment segment = segmentOf(in, context);
      try (TreeReduce.Node node = new TreeReduce.Node(in.exchange(), GradientExchange.keyOf(in.exchange(), in.segmentId()),
          in.segmentId(), task.stageAttemptNumber(), task.partitionId(), segment, executorHost(), task::isInterrupted)) {
        SegmentResult r = runSegment(context, in, task.partitionId(), node::exchange);
        return CollectionConverters.asScala(List.of(r).iterator());
      } catch (IOException e) {
        throw new UncheckedIOException("partition " + task.partitionId() + ": gradient reduction (driver at "
            + in.exchange().host() + ":" + in.exchange().port() + ") failed", e);
      }
    }
  }

  /** The address this executor is known by (its block manager's host), where its tasks listen for their nodes' sources in the tree. */
  static String executorHost() {
    return SparkEnv.get().blockManager().blockManagerId().host();
  }

  /** Sends one step's part and returns the step's total: the reduction tree, or a stand-in in tests. */
  interface StepExchange {
    GradientExchange.StepTotal exchange(long step, GradientExchange.Message mine) throws IOException;
  }

  /**
   * Fault injection for tests: with this Spark setting, partition 1 throws at that step (0-based),
   * once per JVM (local masters), in the middle of a barrier segment.
   */
  public static final String TEST_FAIL_ONCE_AT_STEP = "spark.sparkrnn.test.failSegmentTaskOnceAtStep";
  private static final AtomicBoolean FAILED_ONCE = new AtomicBoolean();

  private static void failOnceForTests(long step, int partition) {
    SparkEnv env = SparkEnv.get();
    if (env != null && partition == 1 && TestHooks.step(env.conf(), TEST_FAIL_ONCE_AT_STEP) == step && FAILED_ONCE.compareAndSet(false, true)) {
      throw new IllegalStateException("injected failure at step " + (step + 1) + " (" + TEST_FAIL_ONCE_AT_STEP + ")");
    }
  }

  /**
   * Steps after the current one whose shards a task tells the shard cache about: the next one's are
   * prefetched, and eviction spares the shards read soonest over this window (the schedule is known).
   */
  static final int LOOKAHEAD_STEPS = 16;

  /** The steps of one segment as partition {@code partition} runs them. */
  static SegmentResult runSegment(GradientTask.Context context, SegmentInput in, int partition, StepExchange exchange)
      throws IOException {
    ModelConfig model = in.model();
    Params params = new Params(model, in.params().clone());
    Optimizer optimizer = in.update().newOptimizer();
    if (in.optimizerState() != null) {
      optimizer.load(OptimizerState.fromBytes(in.optimizerState(), "the segment's optimizer state"));
    }
    Schedule schedule = in.schedule();
    boolean carry = schedule.windowsPerBatch() > 1;
    float[] carriedH = in.carriedH();
    float[] carriedC = in.carriedC();
    ArrayList<StepRecord> records = new ArrayList<>();
    TreeSet<String> devices = new TreeSet<>();
    String dataError = null;
    long segmentStart = System.nanoTime();
    long step = in.start();
    while (step < in.maxEnd()) {
      long t0 = System.nanoTime();
      Schedule.Chosen chosen = schedule.sequences(step);
      boolean fresh = schedule.startsBatch(step);
      StepInput stepInput = new StepInput(step, model, params.values(), chosen.shards(), chosen.rows(), schedule.windowStart(step),
          schedule.windowLength(step), carry && !fresh ? carriedH : null, carry && !fresh ? carriedC : null, carry);
      failOnceForTests(step, partition);
      List<StepInput> ahead = new ArrayList<>(LOOKAHEAD_STEPS);
      for (long k = step + 1; k <= step + LOOKAHEAD_STEPS; k++) {
        ahead.add(GradientTask.lookahead(k, model, schedule.sequences(k)));
      }
      PartitionResult mine = GradientTask.computeOnExecutor(context, stepInput, ahead, partition);
      boolean end = step + 1 == in.maxEnd() || END_REQUESTS.get() > 0
          || ((step + 1) % in.logEvery() == 0 && System.nanoTime() - segmentStart >= in.minSegmentNanos());
      long exchangeStart = System.nanoTime();
      GradientExchange.StepTotal total = exchange.exchange(step, new GradientExchange.Message(mine, end));
      // the time in the exchange less the wait for the slowest partition's compute: the reduction's own cost
      long reduceNanos = Math.max(0, System.nanoTime() - exchangeStart - Math.max(0, total.computeNanos() - mine.computeNanos()));
      if (total.dataError() != null) {
        dataError = total.dataError();
        break;
      }
      devices.addAll(total.devices());
      if (carry) {
        carriedH = total.carriedH();
        carriedC = total.carriedC();
      }
      long updateStart = System.nanoTime();
      StepUpdate.Outcome outcome = in.update().apply(step, total.total(), params.values(), optimizer);
      long updateNanos = System.nanoTime() - updateStart;
      step++;
      records.add(new StepRecord(step, outcome.status(), outcome.loss(), outcome.norm(), System.nanoTime() - t0, total.computeNanos(),
          reduceNanos, updateNanos));
      if (outcome.status() == Status.NONFINITE || total.endSegment()) {
        break;
      }
    }
    byte[] state = optimizer.state().toBytes();
    int hash = 31 * Arrays.hashCode(params.values()) + Arrays.hashCode(state);
    if (partition != 0) {
      return new SegmentResult(partition, step, hash, null, null, null, null, null, null, null);
    }
    return new SegmentResult(partition, step, hash, params.values(), state, carriedH, carriedC, records, devices, dataError);
  }
}
