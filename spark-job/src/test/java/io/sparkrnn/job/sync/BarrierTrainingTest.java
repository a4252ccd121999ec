package io.sparkrnn.job.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.job.executor.ExecutorRuntime;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkException;
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
    assertTrue(advice.startsWith("sync barrier: the cluster never offered 8 task slots at once"), advice);
    assertNull(BarrierTraining.explain(new SparkException("Task failed: java.io.IOException: disk full"), 8));
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
}
