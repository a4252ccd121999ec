package io.sparkrnn.data.spark;

import java.util.UUID;
import org.apache.spark.SparkJobInfo;
import org.apache.spark.SparkStageInfo;
import org.apache.spark.api.java.JavaSparkContext;

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

  private final JavaSparkContext sc;
  private final String tag;
  private final String callersDescription;
  private final String callersInterruptOnCancel;

  private JobScope(JavaSparkContext sc, String tag) {
    this.sc = sc;
    this.tag = tag;
    this.callersDescription = sc.getLocalProperty(DESCRIPTION);
    this.callersInterruptOnCancel = sc.getLocalProperty(INTERRUPT_ON_CANCEL);
    sc.addJobTag(tag);
    // a cancelled task must stop writing before the caller cleans up what it wrote (setJobGroup(…, true) did this before)
    sc.setInterruptOnCancel(true);
  }

  /** Tags the thread's next jobs with {@code what} and a fresh id (tags may not hold commas). */
  public static JobScope open(JavaSparkContext sc, String what) {
    return new JobScope(sc, "spark-rnn-" + what.replaceAll("[^A-Za-z0-9-]", "-") + "-" + UUID.randomUUID());
  }

  /** The UI's description of the thread's next jobs. */
  public void describe(String description) {
    sc.setJobDescription(description);
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

  /** Takes the tag off the thread's jobs and puts the caller's description and interrupt setting back (none if it had none). */
  @Override
  public void close() {
    sc.removeJobTag(tag);
    sc.setLocalProperty(DESCRIPTION, callersDescription);
    sc.setLocalProperty(INTERRUPT_ON_CANCEL, callersInterruptOnCancel);
  }
}
