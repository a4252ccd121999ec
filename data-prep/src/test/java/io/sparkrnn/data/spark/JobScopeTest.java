package io.sparkrnn.data.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.TaskState;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.scheduler.TaskInfo;
import org.apache.spark.scheduler.TaskLocality;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import scala.Option;
import scala.Tuple2;
import scala.Tuple4;
import scala.jdk.javaapi.CollectionConverters;

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
        .config("spark.ui.enabled", "false").config("spark.ui.liveUpdate.period", "0")
        // a running task's accumulators reach the driver with the heartbeats (default every 10 s)
        .config("spark.executor.heartbeatInterval", "1s").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  /** One task is "of 1 task", as one shard is "1 shard"; a negative time (clocks) reads 0 s. */
  @Test
  void theLineSaysTaskForOne() {
    assertEquals("predict: 3 of 9 shards done, 0 of 1 task done, 1 running (10 s)",
        JobScope.line("predict", "3 of 9 shards done, ", 0, 1, 1, 10.2));
    assertEquals("prep: 2 of 4 tasks done, 2 running (0 s)", JobScope.line("prep", "", 2, 4, 2, -3));
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
   * A line's time is that of the running stage it describes, from the stage's submission (a user
   * audit: pass 2's first line gave the whole prep's time): asked with a scope start an hour back,
   * a stage submitted during this test reports well under an hour, where the scope's time would
   * be 3,600 s. Of the stage's 4 tasks on 2 cores, 2 return at once and 2 wait: once both have
   * started, 2 are done and 2 running (running counts only the tasks under way).
   */
  @Test
  void theLineTimesTheRunningStageNotTheScope() throws InterruptedException {
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    reported = new CountDownLatch(1);
    AtomicReference<String> running = new AtomicReference<>();
    long anHourAgo = System.nanoTime() - TimeUnit.HOURS.toNanos(1);
    try (JobScope scope = JobScope.open(sc, "stage time")) {
      Thread watcher = watch(scope, anHourAgo, "stage time: 2 of 4 tasks done, 2 running", running);
      sc.parallelize(List.of(0, 1, 2, 3), 4).foreach(i -> {
        if (i >= 2) {
          reported.await(30, TimeUnit.SECONDS);
        }
      });
      watcher.join();
    }
    assertTrue(running.get() != null, "no line counted 2 tasks done and 2 running");
    Matcher m = Pattern.compile("stage time: 2 of 4 tasks done, 2 running \\((\\d+) s\\)").matcher(running.get());
    assertTrue(m.matches(), running.get());
    assertTrue(Integer.parseInt(m.group(1)) < 600, "the stage's time, not the hour since the scope's start: " + running.get());
  }

  /**
   * Units counted by the tasks (countUnits): of 2 tasks on 2 cores, one counts 1 unit and ends,
   * the other counts 2 and waits. The running task's 2 reach the driver only through heartbeats,
   * so a line reading "3 of 5 shards done" while one task still runs has both: 1 finished + 2
   * running. Once the job is done the driver's accumulator holds all 3 (nothing counted twice).
   */
  @Test
  void unitsOfARunningTaskAreCountedFromItsHeartbeats() throws InterruptedException {
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    reported = new CountDownLatch(1);
    AtomicReference<String> seen = new AtomicReference<>();
    LongAccumulator shards;
    try (JobScope scope = JobScope.open(sc, "units")) {
      shards = scope.countUnits("shard", 5);
      assertEquals(null, scope.progressLine(System.nanoTime()));
      Thread watcher = watch(scope, System.nanoTime(), "units: 3 of 5 shards done, 1 of 2 tasks done, 1 running", seen);
      LongAccumulator counter = shards;
      sc.parallelize(List.of(0, 1), 2).foreach(i -> {
        if (i == 0) {
          counter.add(1);
        } else {
          counter.add(1);
          counter.add(1);
          reported.await(30, TimeUnit.SECONDS);
        }
      });
      watcher.join();
    }
    assertTrue(seen.get() != null, "no line counted the running task's 2 shards beside the finished task's 1");
    assertEquals(3L, shards.value());
  }

  /**
   * Units counted per partition, whichever attempts run it (events made by hand, as the listener
   * bus delivers them): a partition and its speculative copy count the further one while both run
   * and the winner's final value once; a late heartbeat of the loser adds nothing; a failed
   * attempt's units leave the count and its retry's come in. Stage 3, partitions 0 and 1, 10 shards.
   */
  @Test
  void aSpeculativeCopyOrARetryCountsItsPartitionOnce() {
    JobScope.UnitsDone u = new JobScope.UnitsDone(7L, "shard", 10);
    u.onTaskStart(new SparkListenerTaskStart(3, 0, task(1, 0)));
    u.onTaskStart(new SparkListenerTaskStart(3, 0, task(2, 0)));   // the speculative copy of partition 0
    u.onTaskStart(new SparkListenerTaskStart(3, 0, task(3, 1)));
    u.onExecutorMetricsUpdate(beat(1, 3));
    u.onExecutorMetricsUpdate(beat(2, 2));
    u.onExecutorMetricsUpdate(beat(3, 1));
    assertEquals(3 + 1, u.done(), "partition 0's further attempt (3 shards), partition 1's 1");
    u.onTaskEnd(end(task(2, 0), TaskState.FINISHED(), 4));
    u.onExecutorMetricsUpdate(beat(1, 3));
    u.onTaskEnd(end(task(1, 0), TaskState.KILLED(), 3));
    assertEquals(4 + 1, u.done(), "the winner's 4 once; the loser's late heartbeat and kill add nothing");
    u.onTaskEnd(end(task(3, 1), TaskState.FAILED(), 1));
    assertEquals(4, u.done(), "the failed attempt's shard leaves the count");
    u.onTaskStart(new SparkListenerTaskStart(3, 0, task(4, 1)));
    u.onTaskEnd(end(task(4, 1), TaskState.FINISHED(), 6));
    assertEquals(10, u.done(), "the retry's 6");
    // heartbeats that the bus delivers before their attempt's start, then the start, then the end: counted once
    JobScope.UnitsDone early = new JobScope.UnitsDone(7L, "shard", 10);
    early.onExecutorMetricsUpdate(beat(5, 2));
    assertEquals(2, early.done());
    early.onTaskStart(new SparkListenerTaskStart(3, 0, task(5, 0)));
    early.onTaskEnd(end(task(5, 0), TaskState.FINISHED(), 3));
    assertEquals(3, early.done(), "the final 3, not 3 + the early 2");
    early.onExecutorMetricsUpdate(beat(6, 1));                        // and one whose start never came
    early.onTaskEnd(end(task(6, 1), TaskState.FINISHED(), 4));
    assertEquals(7, early.done());
  }

  /**
   * The listener's guards, each seen on its own (mutation audit): a loser's heartbeat between the
   * winner's end and its own kill adds nothing, nor does a failed attempt's heartbeat that arrives
   * after its end; an early heartbeat of a copy that starts after its partition succeeded leaves the
   * count with that start; a partition that succeeds twice (a map stage rerun) counts once; and the
   * count never exceeds the total, not even while such an early heartbeat is counted.
   */
  @Test
  void lateAndEarlyHeartbeatsAndASecondSuccessAddNothing() {
    JobScope.UnitsDone u = new JobScope.UnitsDone(7L, "shard", 10);
    u.onTaskStart(new SparkListenerTaskStart(3, 0, task(1, 0)));
    u.onTaskStart(new SparkListenerTaskStart(3, 0, task(2, 0)));   // the speculative copy of partition 0
    u.onExecutorMetricsUpdate(beat(1, 3));
    u.onExecutorMetricsUpdate(beat(2, 2));
    u.onTaskEnd(end(task(2, 0), TaskState.FINISHED(), 4));
    assertEquals(4, u.done(), "the winner's 4, not the winner's 4 and the loser's 3 while the loser runs on");
    u.onExecutorMetricsUpdate(beat(1, 5));
    assertEquals(4, u.done(), "the loser's heartbeat before its kill");
    u.onTaskEnd(end(task(1, 0), TaskState.KILLED(), 5));
    assertEquals(4, u.done());
    // a failed attempt's heartbeat, sent before its end and delivered after it
    u.onTaskStart(new SparkListenerTaskStart(3, 0, task(3, 1)));
    u.onExecutorMetricsUpdate(beat(3, 1));
    u.onTaskEnd(end(task(3, 1), TaskState.FAILED(), 1));
    assertEquals(4, u.done());
    u.onExecutorMetricsUpdate(beat(3, 1));
    assertEquals(4, u.done(), "the failed attempt's late heartbeat");
    // partition 0 succeeds again (its map output lost and rerun): once
    u.onTaskStart(new SparkListenerTaskStart(3, 1, task(4, 0)));
    u.onTaskEnd(end(task(4, 0), TaskState.FINISHED(), 4));
    assertEquals(4, u.done(), "partition 0's units once");
    // a copy of the succeeded partition 0 whose heartbeat comes before its start: counted until the start names it
    JobScope.UnitsDone early = new JobScope.UnitsDone(7L, "shard", 5);
    early.onTaskStart(new SparkListenerTaskStart(3, 0, task(1, 0)));
    early.onTaskEnd(end(task(1, 0), TaskState.FINISHED(), 4));
    early.onExecutorMetricsUpdate(beat(2, 3));
    assertEquals(5, early.done(), "4 + 3 of its partition unknown yet, never more than the 5 in all");
    early.onTaskStart(new SparkListenerTaskStart(3, 0, task(2, 0)));
    assertEquals(4, early.done(), "its start names partition 0, which succeeded");
    early.onTaskEnd(end(task(2, 0), TaskState.KILLED(), 3));
    assertEquals(4, early.done());
  }

  /**
   * The unit is singular where the total is 1 ("shard"; docs of countUnits), as predict's start
   * line says "1 shard": a one-task job counting 1 unit, held until a line counts it.
   */
  @Test
  void oneUnitInAllIsSingular() throws InterruptedException {
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    reported = new CountDownLatch(1);
    AtomicReference<String> seen = new AtomicReference<>();
    try (JobScope scope = JobScope.open(sc, "one")) {
      LongAccumulator counter = scope.countUnits("shard", 1);
      Thread watcher = watch(scope, System.nanoTime(), "one: ", seen);
      sc.parallelize(List.of(0), 1).foreach(i -> {
        counter.add(1);
        reported.await(30, TimeUnit.SECONDS);
      });
      watcher.join();
    }
    assertTrue(seen.get() != null, "no line");
    // close takes the scope's listener off the bus (a notebook's session runs many scopes)
    assertFalse(sc.sc().listenerBus().listeners().stream().anyMatch(l -> l instanceof JobScope.UnitsDone),
        "a units listener left on the bus after close");
    assertTrue(seen.get().matches("one: [01] of 1 shard done, 0 of 1 task done, [01] running \\(\\d+ s\\)"), seen.get());
  }

  private static TaskInfo task(long id, int index) {
    return new TaskInfo(id, index, 0, index, 0L, "1", "127.0.0.1", TaskLocality.PROCESS_LOCAL(), false);
  }

  private static scala.collection.immutable.Seq<AccumulableInfo> shards(long value) {
    AccumulableInfo info = new AccumulableInfo(7L, Option.apply("spark-rnn shards done"), Option.apply((Object) value),
        Option.empty(), false, false, Option.empty());
    return CollectionConverters.asScala(List.of(info)).toSeq();
  }

  private static SparkListenerExecutorMetricsUpdate beat(long taskId, long value) {
    Tuple4<Object, Object, Object, scala.collection.immutable.Seq<AccumulableInfo>> t = new Tuple4<>(taskId, 3, 0, shards(value));
    return new SparkListenerExecutorMetricsUpdate("1", CollectionConverters.asScala(List.of(t)).toSeq(),
        scala.collection.immutable.Map$.MODULE$.empty());
  }

  private static SparkListenerTaskEnd end(TaskInfo info, scala.Enumeration.Value state, long value) {
    info.markFinished(state, 1L);
    info.setAccumulables(shards(value));
    return new SparkListenerTaskEnd(3, 0, "ResultTask", null, info, null, null);
  }

  /**
   * A started thread that asks for the scope's line every 50 ms, for up to 30 s, until one starts
   * with {@code prefix}, which it puts in {@code seen}; then it releases the tasks ({@link #reported}).
   */
  private static Thread watch(JobScope scope, long startNanos, String prefix, AtomicReference<String> seen) {
    Thread watcher = new Thread(() -> {
      try {
        for (int i = 0; i < 600 && seen.get() == null; i++) {
          String line = scope.progressLine(startNanos);
          if (line != null && line.startsWith(prefix)) {
            seen.set(line);
          }
          Thread.sleep(50);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        reported.countDown();
      }
    });
    watcher.start();
    return watcher;
  }

  /**
   * close waits for a line under way (its javadoc: none comes after close returns): a sink still
   * writing its line when close is called has given it before close returns, and none follows.
   * The sink keeps writing through the interrupt that stops the reporting thread, as a blocking
   * log appender may.
   */
  @Test
  void closeWaitsForALineUnderWay() throws InterruptedException {
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    reported = new CountDownLatch(1);
    CountDownLatch entered = new CountDownLatch(1);
    List<String> lines = new CopyOnWriteArrayList<>();
    int atClose;
    Thread job;
    JobScope scope = JobScope.open(sc, "close test");
    try {
      // a child thread inherits the scope's job tag (Spark's local properties are inherited)
      job = new Thread(() -> sc.parallelize(List.of(1, 2), 2).foreach(i -> reported.await(30, TimeUnit.SECONDS)));
      job.start();
      scope.reportProgress(line -> {
        entered.countDown();
        long until = System.nanoTime() + 500_000_000L;
        while (System.nanoTime() < until) {
          Thread.onSpinWait();              // not interruptible: the line is under way
        }
        lines.add(line);
      }, 50);
      assertTrue(entered.await(30, TimeUnit.SECONDS), "no line began");
      scope.close();
      atClose = lines.size();
    } finally {
      reported.countDown();
      scope.close();   // a second close does nothing; here for a failed assertion above
    }
    job.join();
    Thread.sleep(200);
    assertEquals(1, atClose, "the line under way when close was called: " + lines);
    assertEquals(1, lines.size(), "a line after close: " + lines);
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
