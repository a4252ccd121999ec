package io.sparkrnn.data.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import scala.Tuple2;

/** Progress lines of a scope's long jobs (JobScope.reportProgress). */
class JobScopeTest {
  static SparkSession spark;
  /** Counted down by the test's progress sink; the job's tasks wait for it (local mode: one JVM). */
  static volatile CountDownLatch reported;

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[2]").appName("job-scope-test")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        // the status store writes a live stage at every task event, not at most every 100 ms (then
        // tasks that start and block may show as running only at the next heartbeat, 10 s later)
        .config("spark.ui.enabled", "false").config("spark.ui.liveUpdate.period", "0").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  /**
   * A job of 4 tasks (one per partition) on 2 cores, each task waiting until a line has counted a
   * running task: the line names what the scope's jobs do and counts the running stage's 4 tasks,
   * of which at most 2 run at once and none is done before that line; close stops the reporting.
   * The job reads a shuffle that an earlier job wrote, as prep table's pass 2 does: its 6 map tasks
   * are listed in the job again, skipped, and not counted. (Spark's status store follows the tasks
   * a little late, through its listener bus: the first lines may count none running yet.)
   */
  @Test
  void aRunningJobIsReportedWithItsTasksDoneOfAll() throws InterruptedException {
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    List<String> lines = new CopyOnWriteArrayList<>();
    reported = new CountDownLatch(1);
    try (JobScope scope = JobScope.open(sc, "progress test")) {
      JavaPairRDD<Integer, Iterable<Integer>> grouped = sc.parallelize(List.of(0, 1, 2, 3, 4, 5, 6, 7), 6)
          .mapToPair(i -> new Tuple2<>(i % 4, i)).groupByKey(4);
      grouped.count();                     // runs the 6 map tasks, before the reporting starts
      scope.describe("the test's job");
      scope.reportProgress(line -> {
        lines.add(line);
        if (!line.contains(" 0 running")) {
          reported.countDown();
        }
      }, 50);
      grouped.foreach(group -> reported.await(30, TimeUnit.SECONDS));
    }
    String running = lines.stream().filter(l -> !l.contains(" 0 running")).findFirst().orElse(null);
    assertTrue(running != null, "no progress line counted a running task: " + lines);
    assertTrue(running.matches("the test's job: 0 of 4 tasks done, [12] running \\(\\d+ s\\)"), running);
    boolean reporterLeft = true;          // close stopped the reporting thread
    for (int i = 0; i < 100 && reporterLeft; i++) {
      Thread.sleep(50);
      reporterLeft = Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().startsWith("spark-rnn progress of"));
    }
    assertFalse(reporterLeft, "a progress thread 5 s after close");
  }

  /**
   * Nothing to report before the scope's first job, nor once its jobs are done (as soon as Spark's
   * status store, which follows through the listener bus, has seen the end: within seconds).
   */
  @Test
  void noLineWithoutARunningJobOfTheScope() throws InterruptedException {
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    try (JobScope scope = JobScope.open(sc, "idle")) {
      assertEquals(null, scope.progressLine(System.nanoTime()));
      sc.parallelize(List.of(1, 2), 2).count();
      String line = scope.progressLine(System.nanoTime());
      for (int i = 0; i < 200 && line != null; i++) {
        Thread.sleep(50);
        line = scope.progressLine(System.nanoTime());
      }
      assertEquals(null, line, "10 s after the job ended");
    }
  }
}
