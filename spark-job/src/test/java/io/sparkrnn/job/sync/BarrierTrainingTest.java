package io.sparkrnn.job.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.job.executor.ExecutorRuntime;
import java.io.IOException;
import java.io.InterruptedIOException;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkException;
import org.apache.spark.SparkThrowable;
import org.junit.jupiter.api.Test;

/** The checks and messages around --sync barrier that need no Spark context. */
class BarrierTrainingTest {
  @Test
  void localMastersGiveTheirThreadCountAndClustersNone() {
    assertEquals(1, ExecutorRuntime.localThreads("local"));
    assertEquals(4, ExecutorRuntime.localThreads("local[4]"));
    assertEquals(3, ExecutorRuntime.localThreads("local[3, 2]"));
    assertEquals(Runtime.getRuntime().availableProcessors(), ExecutorRuntime.localThreads("local[*]"));
    assertEquals(0, ExecutorRuntime.localThreads("spark://127.0.0.1:7077"));
    assertEquals(0, ExecutorRuntime.localThreads("yarn"));
    assertEquals(0, ExecutorRuntime.localThreads("local-cluster[2,1,1024]"));
  }

  @Test
  void dynamicAllocationIsRefusedBeforeTraining() {
    SparkConf conf = new SparkConf(false).set("spark.dynamicAllocation.enabled", "true");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BarrierTraining.checkCanRun(conf, "yarn", 4));
    assertTrue(e.getMessage().startsWith("sync: barrier needs a fixed set of executors"), e.getMessage());
  }

  @Test
  void sparksSlotRefusalBecomesAdvice() {
    // the message Spark 4.0.1 fails the job with (BarrierJobAllocationFailed), wrapped as the scheduler wraps it
    SparkException spark = new SparkException("Job aborted", new RuntimeException("[SPARK-24819]: Barrier execution mode does not allow"
        + " run a barrier stage that requires more slots than the total number of slots in the cluster currently."));
    String advice = BarrierTraining.explain(spark, 8);
    assertTrue(advice.startsWith("sync barrier: the cluster does not offer 8 task slots at once (one per partition), or no longer"
        + " does (an executor or worker lost); use fewer --partitions"), advice);
    assertNull(BarrierTraining.explain(new SparkException("Task failed: java.io.IOException: disk full"), 8));
    // told apart from the other user errors, so the trainer can add the checkpoint to resume from
    assertTrue(BarrierTraining.slotsRefused(spark));
    assertFalse(BarrierTraining.slotsRefused(new SparkException("Job aborted due to stage failure: ... io.sparkrnn.kernel"
        + ".BadInputException: --device gpu:3: no such device")));
  }

  @Test
  void badInputRaisedInATaskIsTheUsersAndABugIsRetried() {
    // Spark aborts a failed barrier stage with the task's exception as text only
    SparkException bad = new SparkException("Job aborted due to stage failure: ... io.sparkrnn.kernel.BadInputException: --device gpu:3:"
        + " no such device\n\tat io.sparkrnn.kernel.device.Engines.create(Engines.java:10)");
    assertEquals("--device gpu:3: no such device", BarrierTraining.explain(bad, 2));
    SparkException bug = new SparkException("Job aborted due to stage failure: ... java.lang.IllegalArgumentException: leaves [3, 2) of 4");
    assertNull(BarrierTraining.explain(bug, 2), "a plain IllegalArgumentException is a bug: the segment is run again, then reported");
  }

  @Test
  void aBarrierTaskThatFailedIsRetriedNotTakenForASlotRefusal() {
    // Spark's DAGScheduler aborts a failed barrier result stage with this text: it names the barrier stage, not slots,
    // and a rerun of the segment may cure it (a lost executor, a reset link), so explain gives no advice
    SparkException lost = new SparkException("Could not recover from a failed barrier ResultStage. Most recent failure reason:"
        + " Stage failed because barrier task ResultTask(3, 1) finished unsuccessfully.\njava.io.IOException: partition 0 closed"
        + " the connection");
    assertNull(BarrierTraining.explain(lost, 4));
    // and a task failure that only happens to say "slots" is not Spark's refusal either
    assertNull(BarrierTraining.explain(new SparkException("Task failed: java.io.IOException: no free slots in the shard cache"), 4));
  }

  @Test
  void everyUserErrorRaisedInATaskStopsWithItsOwnMessage() {
    // USER_ERRORS: what Main reports as the user's to fix; a rerun of the segment fails the same way
    for (String type : new String[] {"io.sparkrnn.job.executor.ShardDataException", "io.sparkrnn.data.spark.TableDataException",
        "io.sparkrnn.kernel.aparapi.DeviceUnavailableException", "io.sparkrnn.kernel.aparapi.DeviceFallbackException"}) {
      SparkException e = new SparkException("Job aborted due to stage failure: ... " + type + ": shard 3: bad CRC\n\tat x.y(Z.java:1)");
      assertEquals("shard 3: bad CRC", BarrierTraining.explain(e, 2), type);
    }
  }

  @Test
  void onlyALocalMasterIsRefusedMorePartitionsThanItRunsAtOnce() {
    SparkConf conf = new SparkConf(false);
    BarrierTraining.checkCanRun(conf, "local[2]", 2);       // two tasks on two threads: all running at once
    BarrierTraining.checkCanRun(conf, "local[4]", 1);
    BarrierTraining.checkCanRun(conf, "yarn", 64);          // a cluster: Spark waits for the slots itself (SparkSetup)
    BarrierTraining.checkCanRun(conf, "spark://127.0.0.1:7077", 16);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BarrierTraining.checkCanRun(conf, "local[2]", 3));
    assertTrue(e.getMessage().startsWith("partitions: 3 under --sync barrier needs 3 tasks running at once, and local[2] runs 2"),
        e.getMessage());
  }

  /** A failure carrying a Spark error condition, as Spark's cancelled jobs do. */
  static final class Conditioned extends RuntimeException implements SparkThrowable {
    private final String condition;

    Conditioned(String condition) {
      super("Job 7 cancelled part of cancelled job group train");
      this.condition = condition;
    }

    @Override
    public String getCondition() {
      return condition;
    }

    @Override
    @SuppressWarnings("deprecation")
    public String getErrorClass() {
      return condition;
    }
  }

  @Test
  void aCancelOrAStoppedContextIsAStopAndAnythingElseAFailureToRetry() {
    SparkException plain = new SparkException("Job aborted due to stage failure: java.io.IOException: connection reset");
    assertTrue(!BarrierTraining.cancelled(plain, false), "a task failure: the segment runs again");
    assertTrue(!BarrierTraining.cancelled(new SparkException("x", new Conditioned("TASK_WRITE_FAILED")), false));
    // a stopped SparkContext fails its jobs with a plain SparkException: the flag decides
    assertTrue(BarrierTraining.cancelled(new SparkException("Job 3 cancelled because SparkContext was shut down"), true));
    // Spark's error condition for a cancelled job (cancelJobGroup, a tag, the UI's kill), as the cause of what runJob throws
    assertTrue(BarrierTraining.cancelled(new SparkException("wrapped", new Conditioned("SPARK_JOB_CANCELLED")), false));
    // an interrupt of the driver thread comes out with the flag cleared: it is a stop, and the flag is set again for the caller
    try {
      for (Throwable interrupt : new Throwable[] {new InterruptedException(), new InterruptedIOException()}) {
        assertTrue(BarrierTraining.cancelled(new SparkException("runJob", interrupt), false), interrupt.toString());
        assertTrue(Thread.interrupted(), "the interrupt flag is set again: " + interrupt);
      }
    } finally {
      Thread.interrupted();
    }
    assertTrue(!BarrierTraining.cancelled(new SparkException("io", new IOException("disk full")), false));
  }
}
