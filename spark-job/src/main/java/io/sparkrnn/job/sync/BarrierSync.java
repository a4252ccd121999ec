package io.sparkrnn.job.sync;

import io.sparkrnn.job.TrainConfig;
import io.sparkrnn.job.executor.GradientTask;
import io.sparkrnn.job.executor.Schedule;
import io.sparkrnn.job.sync.StepUpdate.StepRecord;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.optim.Optimizer;
import io.sparkrnn.kernel.optim.OptimizerState;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.LongConsumer;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * {@code --sync barrier}: a segment of steps in one barrier stage ({@link BarrierTraining}); the
 * tasks reduce each step's sums in a tree ({@link TreeReduce}, through the driver's
 * {@link GradientExchange}) and each apply the update ({@link StepUpdate}). A segment ends at the
 * latest at the next validation or checkpoint step, which the driver does between segments.
 */
public final class BarrierSync implements StepSync {
  /** Runs of one segment before the training stops (Spark does not rerun a failed barrier result stage itself). */
  static final int SEGMENT_ATTEMPTS = 4;
  /** Segment ids, unique per run and attempt, so a failed attempt's stragglers never meet a new attempt's tasks. */
  private long nextSegmentId = 1;

  private final JavaSparkContext sc;
  private final GradientTask.Context context;
  private final GradientExchange.Server exchange;
  private final int partitions;
  private final StepUpdate update;
  private final TrainConfig config;
  private final ModelConfig model;
  private final Schedule schedule;
  private final long totalSteps;
  /** Told each segment's launch and return time (its wall time minus its steps' own), for the run's metrics. */
  private final LongConsumer segmentLaunch;
  private final PrintStream log;

  /**
   * @param exchange the driver's gradient exchange, or null for one partition (its task merges alone)
   * @param segmentLaunch told each segment's launch and return time in ns
   */
  public BarrierSync(JavaSparkContext sc, GradientTask.Context context, GradientExchange.Server exchange, int partitions,
      StepUpdate update, TrainConfig config, ModelConfig model, Schedule schedule, long totalSteps, LongConsumer segmentLaunch,
      PrintStream log) {
    this.sc = sc;
    this.context = context;
    this.exchange = exchange;
    this.partitions = partitions;
    this.update = update;
    this.config = config;
    this.model = model;
    this.schedule = schedule;
    this.totalSteps = totalSteps;
    this.segmentLaunch = segmentLaunch;
    this.log = log;
  }

  @Override
  public Advanced advance(JavaRDD<Integer> slots, long step, State state, Set<String> devices) {
    long t0 = System.nanoTime();
    Optimizer optimizer = state.optimizer();
    BarrierTraining.SegmentInput input = new BarrierTraining.SegmentInput(0, null, step, segmentEnd(step), config.logEvery(),
        (long) (BarrierTraining.MIN_SEGMENT_SECONDS * 1e9), model, state.params().values(),
        optimizer.stepCount() == 0 ? null : optimizer.state().toBytes(), state.carriedH(), state.carriedC(), schedule, update);
    sc.setJobDescription("spark-rnn train: barrier segment from step " + (step + 1) + " (at most to " + input.maxEnd() + " of "
        + totalSteps + ")");
    BarrierTraining.SegmentResult segment = runSegment(sc, slots, context, exchange, input, partitions, log);
    State after = state;
    if (segment.end() > step) {
      Optimizer next = update.newOptimizer();
      next.load(OptimizerState.fromBytes(segment.optimizerState(), "segment result"));
      after = new State(new Params(model, segment.params()), next, segment.carriedH(), segment.carriedC());
    }
    devices.addAll(segment.devices());
    return new Advanced(after, chargeLaunchToFirstStep(segment.steps(), System.nanoTime() - t0), segment.dataError());
  }

  /**
   * Where a barrier segment starting after {@code step} completed steps must end at the latest:
   * the next validation or checkpoint step, or the end of the run (the driver does those between
   * segments). Log steps are left to the tasks (see {@link BarrierTraining}).
   */
  private long segmentEnd(long step) {
    long end = totalSteps;
    if (config.validateEvery() > 0) {
      end = Math.min(end, (step / config.validateEvery() + 1) * config.validateEvery());
    }
    if (config.checkpointEvery() > 0) {
      end = Math.min(end, (step / config.checkpointEvery() + 1) * config.checkpointEvery());
    }
    return end;
  }

  /**
   * Runs a segment, and again from the same start (a fresh id) when a task failed: Spark 4 aborts
   * the job when a barrier result stage fails instead of rerunning it. The rerun recomputes the
   * same steps from the same broadcast state, so the weights stay bit-identical. Errors that
   * would fail every attempt the same way (too few task slots; a user error raised in a task,
   * such as a missing --device) stop at once, as a user error. A cancelled job ({@code
   * cancelJobGroup} or a tag, the UI's kill), an interrupt of the driver thread or a stopped
   * SparkContext stops the run ({@link BarrierTraining#cancelled}; {@code Trainer.run} then cancels
   * a segment job an interrupt left running).
   */
  private BarrierTraining.SegmentResult runSegment(JavaSparkContext sc, JavaRDD<Integer> slots, GradientTask.Context context,
      GradientExchange.Server exchange, BarrierTraining.SegmentInput input, int partitions, PrintStream log) {
    for (int attempt = 1; ; attempt++) {
      BarrierTraining.SegmentInput run = input.withSegmentId(nextSegmentId++);
      try {
        return BarrierTraining.run(sc, slots, context, exchange, run);
      } catch (Exception e) { // Spark's SparkException is checked, yet undeclared by Scala: catch it too
        if (BarrierTraining.cancelled(e, sc.sc().isStopped())) {
          throw e;                         // the user's cancel or interrupt, or a stopped SparkContext: not a failure to run again
        }
        String why = BarrierTraining.explain(e, partitions);
        if (why != null) {   // the user's to fix: printed alone, exit 2
          throw BarrierTraining.slotsRefused(e) ? new BarrierTraining.SlotsRefusedException(why, e) : new BadInputException(why, e);
        }
        if (attempt >= SEGMENT_ATTEMPTS) {
          throw e;
        }
        log.printf("the segment from step %d failed (attempt %d of %d): %s; running it again from its start%n", input.start() + 1,
            attempt, SEGMENT_ATTEMPTS, BarrierTraining.firstLine(String.valueOf(e.getMessage())));
      }
    }
  }

  /**
   * The segment's steps, the first also charged with the segment's launch and return (its wall
   * time minus the steps' own times), so the step times of a run add up to its wall time.
   */
  private List<StepRecord> chargeLaunchToFirstStep(List<StepRecord> steps, long wallNanos) {
    List<StepRecord> out = new ArrayList<>(steps);
    if (!out.isEmpty()) {
      long inside = 0;
      for (StepRecord r : out) {
        inside += r.nanos();
      }
      long launch = Math.max(0, wallNanos - inside);
      segmentLaunch.accept(launch);
      out.set(0, out.get(0).withNanos(out.get(0).nanos() + launch));
    }
    return out;
  }
}
