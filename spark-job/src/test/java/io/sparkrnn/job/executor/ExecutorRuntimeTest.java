package io.sparkrnn.job.executor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
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

  /**
   * The default partition count waits for the cluster's executors (a user audit: 3 one-core
   * executors on standalone got 2 partitions, Spark's floor before any registered): executors
   * registering 0, 0, 1, 1, then 3 for good are waited for until 3 has held for the settle time;
   * none ever is waited for until the limit; a stopped context ends the wait.
   */
  @Test
  void theExecutorsAreWaitedForUntilTheirCountHolds() {
    int[] arriving = {0, 0, 1, 1, 3};
    AtomicInteger polls = new AtomicInteger();
    int settled = ExecutorRuntime.awaitSettled(() -> arriving[Math.min(polls.getAndIncrement(), arriving.length - 1)], 50, 5, 10_000);
    assertEquals(3, settled);
    assertTrue(polls.get() >= arriving.length + 1, "polled past the arrival of the third: " + polls.get());
    long start = System.nanoTime();
    assertEquals(0, ExecutorRuntime.awaitSettled(() -> 0, 50, 5, 200), "none registered: the limit ends the wait");
    assertTrue(System.nanoTime() - start >= 200_000_000L, "waited the limit");
    assertEquals(Integer.MAX_VALUE, ExecutorRuntime.awaitSettled(() -> Integer.MAX_VALUE, 50, 5, 10_000), "a stopped context");
  }

  /**
   * The settle time counts from the last change of the count, not from the start of the wait: no
   * executor for the first 150 polls (at least 750 ms, more than the 500 ms settle time), then 1
   * for two polls, then 3 for good. Counted from the start, 1 would seem to have held long enough
   * the moment it appeared; counted from each change, only 3 holds for 500 ms.
   */
  @Test
  void theSettleTimeCountsFromTheLastChange() {
    AtomicInteger polls = new AtomicInteger();
    int settled = ExecutorRuntime.awaitSettled(() -> {
      int i = polls.getAndIncrement();
      return i < 150 ? 0 : i < 152 ? 1 : 3;
    }, 500, 5, 60_000);
    assertEquals(3, settled, "after " + polls.get() + " polls");
  }

  @Test
  void aPlainLocalMastersOneThreadGivesEachTaskOne() {
    // engineThreads: ⌊N / P⌋ of a local master's N threads, at least spark.task.cpus (default 1)
    assertEquals(1, ExecutorRuntime.engineThreads(new SparkConf(false), "local", 1), "local, one task");
    SparkConf two = new SparkConf(false).set("spark.task.cpus", "2");
    assertEquals(2, ExecutorRuntime.engineThreads(two, "local", 1), "at least the task's CPUs");
  }
}
