package io.sparkrnn.data.spark;

import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.apache.spark.SparkJobInfo;
import org.apache.spark.SparkStageInfo;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.util.LongAccumulator;
import scala.Tuple4;
import scala.collection.Seq;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The Spark jobs of one piece of spark-rnn work (a prep, a training run, an evaluation) on the
 * caller's thread: a description for the UI and a job tag of its own, set beside the caller's
 * job group and tags, never in their place. A notebook cancels a cell by its job group (or tag),
 * and that must reach these jobs too: replacing the group, as {@code setJobGroup} does, and
 * clearing it afterwards, as {@code clearJobGroup} does, would leave the cell's later jobs outside
 * it. Its jobs' tasks are interrupted when cancelled ({@code spark.job.interruptOnCancel}).
 * {@link #close} takes the tag off and puts the caller's description and interrupt setting back,
 * so no stale description labels the caller's next jobs.
 *
 * <pre>{@code
 * try (JobScope scope = JobScope.open(sc, "prep table")) {
 *   scope.describe("prep table: pass 1 of 2");
 *   ...
 * } // on failure, scope.cancel() first: our jobs' tasks stopped before cleanup
 * }</pre>
 */
public final class JobScope implements AutoCloseable {
  /** Spark's thread-local property for the UI's job description (SparkContext.SPARK_JOB_DESCRIPTION). */
  static final String DESCRIPTION = "spark.job.description";
  /** How long {@link #cancel} waits for running tasks to stop. */
  static final long CANCEL_WAIT_MS = 60_000;

  /** Spark's thread-local property: interrupt a cancelled job's task threads (SparkContext.SPARK_JOB_INTERRUPT_ON_CANCEL). */
  static final String INTERRUPT_ON_CANCEL = "spark.job.interruptOnCancel";

  /** How often {@link #reportProgress} reports while one of the scope's jobs runs. */
  public static final long PROGRESS_EVERY_MS = 10_000;

  private final JavaSparkContext sc;
  private final String tag;
  private final String callersDescription;
  private final String callersInterruptOnCancel;
  /** What the jobs do, for progress lines: the last {@link #describe}, else the work's name. */
  private volatile String doing;
  private ScheduledExecutorService progress;
  /** The units of work the scope's tasks report done ({@link #countUnits}), or null. */
  private volatile UnitsDone units;

  private JobScope(JavaSparkContext sc, String tag, String what) {
    this.sc = sc;
    this.tag = tag;
    this.doing = what;
    this.callersDescription = sc.getLocalProperty(DESCRIPTION);
    this.callersInterruptOnCancel = sc.getLocalProperty(INTERRUPT_ON_CANCEL);
    sc.addJobTag(tag);
    // a cancelled task must stop writing before the caller cleans up what it wrote (setJobGroup(…, true) did this before)
    sc.setInterruptOnCancel(true);
  }

  /** Tags the thread's next jobs with {@code what} and a fresh id (tags may not hold commas). */
  public static JobScope open(JavaSparkContext sc, String what) {
    return new JobScope(sc, "spark-rnn-" + what.replaceAll("[^A-Za-z0-9-]", "-") + "-" + UUID.randomUUID(), what);
  }

  /** The UI's description of the thread's next jobs, and of their progress lines. */
  public void describe(String description) {
    doing = description;
    sc.setJobDescription(description);
  }

  /**
   * From now until {@link #close}, every {@link #PROGRESS_EVERY_MS} while one of this scope's jobs
   * runs, gives {@code sink} a line: what the jobs do, the tasks of their running stages done of
   * all, and the time since the earliest of those stages started. For work whose jobs run minutes
   * without a line of their own (a user audit: prep table, evaluate and RnnEstimator.fit printed
   * nothing for tens of seconds on a large table).
   */
  public void reportProgress(Consumer<String> sink) {
    reportProgress(sink, PROGRESS_EVERY_MS);
  }

  void reportProgress(Consumer<String> sink, long everyMs) {
    if (progress != null) {
      throw new IllegalStateException("progress is reported already");
    }
    long start = System.nanoTime();
    progress = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "spark-rnn progress of " + tag);
      t.setDaemon(true);
      return t;
    });
    progress.scheduleWithFixedDelay(() -> {
      String line = progressLine(start);
      if (line != null) {
        sink.accept(line);
      }
    }, everyMs, everyMs, TimeUnit.MILLISECONDS);
  }

  /**
   * A counter the scope's tasks add 1 to for each unit of work they finish (a shard), which the
   * progress lines then count first: "spark-rnn predict: 12 of 40 shards done, 0 of 2 tasks done, 2
   * running". Where a task owns many shards, tasks alone read "0 of P tasks done" until near the end
   * (a scale audit). The driver learns a running task's count from its executor's heartbeats (every
   * {@code spark.executor.heartbeatInterval}, 10 s by default), a finished task's at its end; a
   * failed task's units leave the count again, and its retry counts them anew. Call before the jobs.
   *
   * @param unit what the lines count, singular ("shard"; "shards" unless the total is 1)
   * @param total how many units the scope's jobs do
   */
  public LongAccumulator countUnits(String unit, long total) {
    if (units != null) {
      throw new IllegalStateException("units are counted already");
    }
    // named: Spark reports only named accumulators in a finished task's accumulables
    LongAccumulator counter = sc.sc().longAccumulator("spark-rnn " + unit + "s done");
    UnitsDone u = new UnitsDone(counter.id(), unit, total);
    sc.sc().addSparkListener(u);
    units = u;
    return counter;
  }

  /**
   * Sums one accumulator over the scope's tasks from the listener bus, which delivers a task's
   * heartbeats before its end: per task (a stage's partition, whichever attempts run it) the
   * latest heartbeat value of its furthest running attempt, or the final value of the attempt that
   * succeeded, once. So a speculative copy or a retried stage does not count a partition's units
   * twice (a review), and a heartbeat that arrives after its attempt's end (sent before it) is
   * ignored.
   */
  static final class UnitsDone extends SparkListener {
    final long accumulatorId;
    final String unit;
    final long total;
    /** Attempt (task id) → its partition, "stage.index", from the attempt's start. */
    final Map<Long, String> partitionOf = new ConcurrentHashMap<>();
    /** Partition → attempt → the attempt's latest heartbeat value. */
    final Map<String, Map<Long, Long>> running = new ConcurrentHashMap<>();
    final Set<Long> ended = ConcurrentHashMap.newKeySet();
    final Set<String> succeeded = ConcurrentHashMap.newKeySet();
    final AtomicLong finished = new AtomicLong();

    UnitsDone(long accumulatorId, String unit, long total) {
      this.accumulatorId = accumulatorId;
      this.unit = unit;
      this.total = total;
    }

    @Override
    public synchronized void onTaskStart(SparkListenerTaskStart start) {
      long taskId = start.taskInfo().taskId();
      String partition = start.stageId() + "." + start.taskInfo().index();
      partitionOf.put(taskId, partition);
      // a heartbeat may come through the bus before the start it followed (the scheduler posts the start on its own thread)
      Map<Long, Long> early = running.remove("task " + taskId);
      if (early != null && !succeeded.contains(partition)) {
        running.computeIfAbsent(partition, p -> new ConcurrentHashMap<>()).putAll(early);
      }
    }

    @Override
    public synchronized void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate update) {
      for (Tuple4<Object, Object, Object, scala.collection.immutable.Seq<AccumulableInfo>> task
          : CollectionConverters.asJava(update.accumUpdates())) {
        long taskId = ((Number) task._1()).longValue();
        Long value = valueOf(task._4());
        String partition = partitionOf.getOrDefault(taskId, "task " + taskId);
        if (value != null && !ended.contains(taskId) && !succeeded.contains(partition)) {
          running.computeIfAbsent(partition, p -> new ConcurrentHashMap<>()).put(taskId, value);
        }
      }
    }

    @Override
    public synchronized void onTaskEnd(SparkListenerTaskEnd end) {
      long taskId = end.taskInfo().taskId();
      String partition = end.stageId() + "." + end.taskInfo().index();
      ended.add(taskId);
      running.remove("task " + taskId);   // heartbeats that came before the attempt's start (a review)
      Map<Long, Long> attempts = running.get(partition);
      if (attempts != null) {
        attempts.remove(taskId);
      }
      Long value = end.taskInfo().successful() ? valueOf(end.taskInfo().accumulables()) : null;
      if (value != null && succeeded.add(partition)) {
        running.remove(partition);
        finished.addAndGet(value);
      }
    }

    /** The task's own count (its update, not the running total across tasks). */
    private Long valueOf(Seq<AccumulableInfo> infos) {
      for (AccumulableInfo info : CollectionConverters.asJava(infos)) {
        if (info.id() == accumulatorId && info.update().isDefined()) {
          return ((Number) info.update().get()).longValue();
        }
      }
      return null;
    }

    /**
     * The units done: finished partitions' counts plus each running partition's furthest attempt.
     * Synchronized with the listener's updates, which the bus thread makes while the progress
     * thread reads: a task's end moves its count from running to finished in two steps, and a read
     * between them undercounted that partition for a line (a review).
     */
    synchronized long done() {
      long sum = finished.get();
      for (Map<Long, Long> attempts : running.values()) {
        sum += attempts.values().stream().mapToLong(Long::longValue).max().orElse(0);
      }
      return Math.min(total, sum);
    }
  }

  /**
   * The progress of this scope's running jobs, or null when none runs. Only running stages count:
   * a stage whose shuffle output a later job reuses (prep table's pass 2 reuses pass 1's sort) is
   * listed in that job but never runs.
   */
  String progressLine(long startNanos) {
    try {
      Set<Integer> active = new HashSet<>();
      for (int id : sc.statusTracker().getActiveStageIds()) {
        active.add(id);
      }
      long total = 0;
      long done = 0;
      long running = 0;
      long firstSubmitted = Long.MAX_VALUE;   // ms since the epoch, of the earliest running stage
      for (int job : sc.sc().statusTracker().getJobIdsForTag(tag)) {
        SparkJobInfo info = sc.statusTracker().getJobInfo(job);
        if (info == null) {
          continue;
        }
        for (int stage : info.stageIds()) {   // a finished job has none active
          SparkStageInfo st = active.contains(stage) ? sc.statusTracker().getStageInfo(stage) : null;
          if (st != null) {
            total += st.numTasks();
            done += st.numCompletedTasks();
            running += st.numActiveTasks();
            if (st.submissionTime() > 0) {
              firstSubmitted = Math.min(firstSubmitted, st.submissionTime());
            }
          }
        }
      }
      if (total == 0) {
        return null;
      }
      // the time of what the line describes, the running stage (a user audit: pass 2's first line gave the whole prep's)
      double seconds = firstSubmitted != Long.MAX_VALUE ? (System.currentTimeMillis() - firstSubmitted) / 1e3
          : (System.nanoTime() - startNanos) / 1e9;
      UnitsDone u = units;
      String unitsDone = u == null ? "" : String.format(Locale.ROOT, "%d of %d %s%s done, ", u.done(), u.total, u.unit,
          u.total == 1 ? "" : "s");
      return line(doing, unitsDone, done, total, running, seconds);
    } catch (RuntimeException e) {
      return null;                         // a context stopping under us: nothing to report
    }
  }

  /** "doing: [units done, ]d of n tasks done, r running (s s)", "of 1 task" for one (a review: "0 of 1 tasks done"). */
  static String line(String doing, String unitsDone, long done, long total, long running, double seconds) {
    return String.format(Locale.ROOT, "%s: %s%d of %d task%s done, %d running (%.0f s)", doing, unitsDone, done, total,
        total == 1 ? "" : "s", running, Math.max(0, seconds));
  }

  /**
   * Cancels this scope's jobs (not the caller's others) and waits, up to {@link #CANCEL_WAIT_MS},
   * until none of their tasks runs: a task of a failed job may still be writing, and the caller is
   * about to delete what it wrote.
   */
  public void cancel() {
    if (sc.sc().isStopped()) {
      return;                              // nothing runs on a stopped context, and cancelling there throws
    }
    sc.cancelJobsWithTag(tag, "spark-rnn: " + tag + " failed or was interrupted");
    long deadline = System.currentTimeMillis() + CANCEL_WAIT_MS;
    while (System.currentTimeMillis() < deadline) {
      boolean running = false;
      for (int job : sc.sc().statusTracker().getJobIdsForTag(tag)) {   // (the Java tracker has no tags)
        SparkJobInfo info = sc.statusTracker().getJobInfo(job);
        if (info == null) {
          continue;
        }
        for (int stage : info.stageIds()) {
          SparkStageInfo st = sc.statusTracker().getStageInfo(stage);
          running |= st != null && st.numActiveTasks() > 0;
        }
      }
      if (!running) {
        return;
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /**
   * Stops the progress lines, takes the tag off the thread's jobs and puts the caller's description
   * and interrupt setting back (none if it had none).
   */
  @Override
  public void close() {
    if (progress != null) {
      progress.shutdownNow();
      try {               // a line under way finishes before close returns: none comes after
        progress.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (units != null) {
      sc.sc().removeSparkListener(units);
    }
    sc.removeJobTag(tag);
    sc.setLocalProperty(DESCRIPTION, callersDescription);
    sc.setLocalProperty(INTERRUPT_ON_CANCEL, callersInterruptOnCancel);
  }
}
