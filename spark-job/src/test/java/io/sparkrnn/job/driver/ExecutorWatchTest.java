package io.sparkrnn.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.LogCapture;
import io.sparkrnn.kernel.BadInputException;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;

/**
 * The warning for a job that waits on a cluster with no executor (ExecutorWatch's javadoc: once,
 * after the grace period of waiting jobs; an executor ends the watch), on a made-up timeline in ms.
 */
class ExecutorWatchTest {
  static final long GRACE = 60_000;

  @Test
  void warnsOnceWhenJobsHaveWaitedTheGracePeriodWithNoExecutor() {
    ExecutorWatch w = new ExecutorWatch(GRACE, "W");
    assertNull(w.poll(0, 0, 0), "no job waits: the driver may read or plan for minutes first");
    assertNull(w.poll(500_000, 0, 0));
    assertNull(w.poll(501_000, 0, 1), "a job begins to wait at 501 s");
    assertNull(w.poll(560_999, 0, 1), "1 ms short of the grace period");
    assertEquals("W", w.poll(561_000, 0, 1));
    assertNull(w.poll(700_000, 0, 1), "once");
    assertTrue(w.done());
  }

  @Test
  void theWaitStartsAgainWhenNoJobWaits() {
    ExecutorWatch w = new ExecutorWatch(GRACE, "W");
    assertNull(w.poll(0, 0, 1));
    assertNull(w.poll(30_000, 0, 0), "the job ended (cancelled) after 30 s");
    assertNull(w.poll(40_000, 0, 2), "the next waits from 40 s");
    assertNull(w.poll(99_999, 0, 2));
    assertEquals("W", w.poll(100_000, 0, 2));
  }

  @Test
  void anExecutorEndsTheWatch() {
    ExecutorWatch w = new ExecutorWatch(GRACE, "W");
    assertNull(w.poll(0, 0, 1));
    assertNull(w.poll(10_000, 1, 1));
    assertTrue(w.done(), "a job waiting once executors came waits for something else");
    assertNull(w.poll(1_000_000, 0, 1), "executors lost later: other messages (the barrier's, the task failures') say so");
  }

  /** The setting is seconds, as docs/cluster.md says: a bare number too; refused (bad input) where it does not parse. */
  @Test
  void theSettingIsSecondsAndABadOneIsRefused() {
    assertEquals(60_000, ExecutorWatch.graceMs(new SparkConf(false)), "the default");
    assertEquals(120_000, ExecutorWatch.graceMs(new SparkConf(false).set(ExecutorWatch.SETTING, "120")));
    assertEquals(120_000, ExecutorWatch.graceMs(new SparkConf(false).set(ExecutorWatch.SETTING, "2min")));
    assertEquals(0, ExecutorWatch.graceMs(new SparkConf(false).set(ExecutorWatch.SETTING, "0")));
    assertEquals(500, ExecutorWatch.graceMs(new SparkConf(false).set(ExecutorWatch.SETTING, "500ms")), "not 0, which is off");
    assertEquals(500, ExecutorWatch.graceMs(new SparkConf(false).set(ExecutorWatch.SETTING, "0.5")), "seconds, a fraction too");
    assertEquals(2, ExecutorWatch.graceMs(new SparkConf(false).set(ExecutorWatch.SETTING, "0.0015")), "rounded up, not to 0 (off)");
    for (String bad : new String[] {"2min?", "-5", "1e17", "99999999999999999"}) {
      BadInputException e = assertThrows(BadInputException.class,
          () -> ExecutorWatch.graceMs(new SparkConf(false).set(ExecutorWatch.SETTING, bad)));
      assertTrue(e.getMessage().startsWith("spark.sparkrnn.executorWaitWarning '" + bad + "': expected seconds"), e.getMessage());
    }
  }

  /** The warning names what an executor asks, as set, and the cluster manager's default where not. */
  @Test
  void theWarningNamesTheExecutorsAsk() {
    SparkConf conf = new SparkConf(false).set("spark.executor.cores", "2").set("spark.executor.memory", "4g");
    String w = ExecutorWatch.warning(conf, GRACE);
    assertTrue(w.startsWith("no executor has registered in 60 s while a job waits: the cluster may be busy (a full queue), or no"
        + " worker or node can host one as asked: each executor asks 2 cores (spark.executor.cores) and 4g of memory"
        + " (spark.executor.memory)"), w);
    assertTrue(w.contains("--executor-cores 1") && w.contains("spark.sparkrnn.executorWaitWarning=0"), w);
    assertTrue(ExecutorWatch.warning(new SparkConf(false), GRACE).contains("asks the cluster manager's default cores"
        + " (spark.executor.cores) and 1g of memory"));
  }

  /**
   * One core is "1 core", and an executor is told to ask less only of what it asks above 1 core and
   * 1g; a grace under a second is in ms, not "0 s" (a review).
   */
  @Test
  void theWarningFitsWhatIsAsked() {
    String least = ExecutorWatch.warning(new SparkConf(false).set("spark.executor.cores", "1"), GRACE);
    assertTrue(least.contains("each executor asks 1 core (spark.executor.cores) and 1g of memory"), least);
    assertTrue(least.contains("one that fits nowhere never starts. Give the workers more; the cluster manager's UI"), least);
    assertFalse(least.contains("--executor-cores 1"), least);
    String more = ExecutorWatch.warning(new SparkConf(false).set("spark.executor.cores", "1").set("spark.executor.memory", "2g"),
        GRACE);
    assertTrue(more.contains("Ask less (spark-submit --executor-memory 1g) or give"), more);
    // what it asks above the least, only: 512m was told "--executor-memory 1g", twice its memory (a review)
    String cores = ExecutorWatch.warning(new SparkConf(false).set("spark.executor.cores", "2").set("spark.executor.memory", "512m"),
        GRACE);
    assertTrue(cores.contains("each executor asks 2 cores (spark.executor.cores) and 512m"), cores);
    assertTrue(cores.contains("Ask less (spark-submit --executor-cores 1) or give"), cores);
    String both = ExecutorWatch.warning(new SparkConf(false).set("spark.executor.cores", "4").set("spark.executor.memory", "8g"),
        GRACE);
    assertTrue(both.contains("Ask less (spark-submit --executor-cores 1 --executor-memory 1g) or give"), both);
    assertTrue(ExecutorWatch.warning(new SparkConf(false), 500).startsWith("no executor has registered in 500 ms while"));
    assertTrue(ExecutorWatch.warning(new SparkConf(false), 90_000).startsWith("no executor has registered in 90 s while"));
  }

  /** A bare number with spaces around it (--conf 'spark.sparkrnn.executorWaitWarning= 120') is seconds too, not Spark's ms. */
  @Test
  void aBareNumberWithSpacesIsSeconds() {
    assertEquals(120_000, ExecutorWatch.graceMs(new SparkConf(false).set(ExecutorWatch.SETTING, " 120 ")));
  }

  /**
   * The watch on a cluster where no executor fits (local-cluster: one worker of 1 core, executors
   * asking 2, as README example 6 on one-core workers): the driver, listed among the executors, is
   * not one, so the warning comes once, also when the context is started on again (a notebook's
   * next command); with the setting 0 none comes.
   */
  @Test
  void onAClusterWhereNoExecutorFitsTheWarningComesOnceAndZeroTurnsItOff() throws Exception {
    assertEquals(List.of(), warningsOnAClusterWhereNoExecutorFits("0", 4_000));
    List<String> once = warningsOnAClusterWhereNoExecutorFits("1", 6_000);
    assertEquals(1, once.size(), once.toString());
    assertTrue(once.get(0).startsWith("no executor has registered in 1 s while a job waits"), once.get(0));
  }

  /** The watch's warnings while a job waits {@code waitMs} on a cluster where no executor fits, started twice. */
  private static List<String> warningsOnAClusterWhereNoExecutorFits(String setting, long waitMs) throws Exception {
    SparkConf conf = new SparkConf(false).setMaster("local-cluster[1,1,1024]").setAppName("executor-watch-test")
        .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1").set("spark.ui.enabled", "false")
        .set("spark.executor.cores", "2").set(ExecutorWatch.SETTING, setting);
    try (LogCapture log = LogCapture.warnings(ExecutorWatch.class)) {
      SparkContext sc = new SparkContext(conf);
      try {
        ExecutorWatch.start(sc);
        ExecutorWatch.start(sc);
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(sc);
        Thread job = new Thread(() -> {
          try {
            jsc.parallelize(List.of(1), 1).count();   // waits for an executor that never comes
          } catch (RuntimeException e) {
            // cancelled below
          }
        });
        job.setDaemon(true);
        job.start();
        Thread.sleep(waitMs);
        sc.cancelAllJobs();
        job.join(10_000);
      } finally {
        sc.stop();
      }
      Thread.sleep(1_500);                  // a second watch would have polled again
      return log.messages();
    }
  }
}
