package io.sparkrnn.job.executor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/**
 * ExecutorRuntime.localThreads' contract (its javadoc): the task threads of local, local[N],
 * local[*] and local[N,F] (Spark's meaning: local is one thread, local[*] one per core), 0 when the
 * master is not local.
 */
class ExecutorRuntimeTest {

  @Test
  void localMastersCountTheirTaskThreadsAndOthersCountZero() {
    assertEquals(1, ExecutorRuntime.localThreads("local"), "local: one task thread");
    assertEquals(3, ExecutorRuntime.localThreads("local[3]"));
    assertEquals(2, ExecutorRuntime.localThreads("local[2,5]"), "local[N,F]: N threads, F task failures");
    assertEquals(Runtime.getRuntime().availableProcessors(), ExecutorRuntime.localThreads("local[*]"), "one per core");
    assertEquals(0, ExecutorRuntime.localThreads("spark://127.0.0.1:7077"));
    assertEquals(0, ExecutorRuntime.localThreads("yarn"));
    assertEquals(0, ExecutorRuntime.localThreads("local-cluster[2,1,1024]"), "executors in JVMs of their own");
  }

  @Test
  void aPlainLocalMastersOneThreadGivesEachTaskOne() {
    // engineThreads: ⌊N / P⌋ of a local master's N threads, at least spark.task.cpus (default 1)
    assertEquals(1, ExecutorRuntime.engineThreads(new SparkConf(false), "local", 1), "local, one task");
    SparkConf two = new SparkConf(false).set("spark.task.cpus", "2");
    assertEquals(2, ExecutorRuntime.engineThreads(two, "local", 1), "at least the task's CPUs");
  }
}
