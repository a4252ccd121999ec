package io.sparkrnn.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.fs.OutputDir;
import io.sparkrnn.job.report.TrainingMetrics;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.lang.reflect.Method;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.util.ShutdownHookManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hook that writes metrics.jsonl on a signal: it writes the rows recorded so far, after it no
 * step is recorded (nor its line printed), and it runs before Spark's own hook stops the context.
 * SignalTest sends a real SIGTERM to train.
 */
class StopFlushTest {
  @TempDir
  Path dir;

  /**
   * The hook of a loop that reaches no step boundary (the tests below but two): it asks for a
   * checkpoint, finds none within a wait of 0, and writes the rows alone.
   */
  private static StopFlush register(TrainingMetrics metrics, OutputDir out, PrintStream log) {
    return StopFlush.register(metrics, out, log, () -> { }, 0);
  }

  /** The hook of this test's run directory, printing nowhere, that waits {@code waitNanos} for the loop's checkpoint. */
  private StopFlush quietHook(TrainingMetrics metrics, long waitNanos) throws IOException {
    return StopFlush.register(metrics, new OutputDir(dir.toUri().toString(), new Configuration()),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), () -> { }, waitNanos);
  }

  /**
   * On a signal the hook asks the loop for a checkpoint (ending a barrier segment after its step in
   * flight) and waits: the loop, at its next step boundary, writes the rows and the checkpoint, and
   * the hook returns without writing them again; no step is recorded after.
   */
  @Test
  void theLoopCheckpointsAtItsNextBoundaryWhileTheHookWaits() throws Exception {
    TrainingMetrics metrics = new TrainingMetrics();
    ByteArrayOutputStream logged = new ByteArrayOutputStream();
    PrintStream log = new PrintStream(logged, true, StandardCharsets.UTF_8);
    CountDownLatch asked = new CountDownLatch(1);
    OutputDir out = new OutputDir(dir.toUri().toString(), new Configuration());
    StopFlush f = StopFlush.register(metrics, out, log, asked::countDown, TimeUnit.SECONDS.toNanos(30));
    ExecutorService loop = Executors.newSingleThreadExecutor();
    try {
      f.step(() -> metrics.add(1, 0, 0.5, 1.0, 10, 2, null, null, null), () -> { });
      assertFalse(f.checkpointNow(), "no signal yet: no checkpoint at this boundary");
      long t0 = System.nanoTime();
      CompletableFuture<Void> hook = CompletableFuture.runAsync(f::flush);
      assertTrue(asked.await(10, TimeUnit.SECONDS), "the hook asks for the segment to end");
      // the step in flight ends and is recorded while the hook waits; then the boundary
      Future<Long> written = loop.submit(() -> {
        f.step(() -> metrics.add(2, 0, 0.4, 1.0, 10, 2, null, null, null), () -> { });
        assertTrue(f.checkpointNow());
        try {
          metrics.write(out);
          Thread.sleep(200);   // a checkpoint being written: the hook waits for it, not for its deadline
          return 2L;
        } finally {
          f.checkpointed();
        }
      });
      assertEquals(2L, written.get(10, TimeUnit.SECONDS));
      hook.get(10, TimeUnit.SECONDS);
      assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(20), "the hook returned at the checkpoint, not at its 30 s");
      assertTrue(f.flushed());
      assertEquals(2, Files.readAllLines(dir.resolve(TrainingMetrics.FILE)).size(), "the rows the loop wrote with its checkpoint");
      assertThrows(StopFlush.Stopping.class, () -> f.step(() -> { }, () -> { }));
      assertFalse(f.checkpointNow(), "one checkpoint");
      assertEquals("", logged.toString(StandardCharsets.UTF_8));
    } finally {
      loop.shutdownNow();
      f.close();
    }
  }

  /** A loop that reaches no boundary within the wait: the hook writes the rows; the loop's next boundary writes no checkpoint. */
  @Test
  void aLoopThatReachesNoBoundaryInTimeLeavesTheRowsToTheHook() throws Exception {
    TrainingMetrics metrics = new TrainingMetrics();
    StopFlush f = quietHook(metrics, TimeUnit.MILLISECONDS.toNanos(300));
    try {
      f.step(() -> metrics.add(1, 0, 0.5, 1.0, 10, 2, null, null, null), () -> { });
      long t0 = System.nanoTime();
      CompletableFuture.runAsync(f::flush).get(10, TimeUnit.SECONDS);
      assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(300), "the hook waited for a boundary");
      assertEquals(1, Files.readAllLines(dir.resolve(TrainingMetrics.FILE)).size());
      assertFalse(f.checkpointNow(), "too late: the rows are written and the JVM goes on shutting down");
      assertThrows(StopFlush.Stopping.class, () -> f.step(() -> { }, () -> { }));
    } finally {
      f.close();
    }
  }

  /** The loop ended (however) before the signal: no boundary comes, so the hook does not wait for one. */
  @Test
  void afterTheLoopTheHookDoesNotWait() throws Exception {
    TrainingMetrics metrics = new TrainingMetrics();
    StopFlush f = quietHook(metrics, TimeUnit.SECONDS.toNanos(30));
    f.step(() -> metrics.add(1, 0, 0.5, 1.0, 10, 2, null, null, null), () -> { });
    f.close();
    CompletableFuture.runAsync(f::flush).get(10, TimeUnit.SECONDS);
    assertEquals(1, Files.readAllLines(dir.resolve(TrainingMetrics.FILE)).size());
  }

  /**
   * A signal after the last step, while the run writes its files: the hook waits for them (close)
   * rather than ask for a checkpoint or write the rows beside them (a kill there left no report).
   */
  @Test
  void afterTheLastStepTheHookWaitsForTheRunsFiles() throws Exception {
    TrainingMetrics metrics = new TrainingMetrics();
    StopFlush f = quietHook(metrics, TimeUnit.SECONDS.toNanos(30));
    f.step(() -> metrics.add(1, 0, 0.5, 1.0, 10, 2, null, null, null), () -> { });
    f.finishing();
    CompletableFuture<Void> hook = CompletableFuture.runAsync(f::flush);
    Thread.sleep(300);
    assertFalse(hook.isDone(), "the hook waits while the run's files are written");
    assertFalse(f.checkpointNow(), "a loop that has ended is asked for no checkpoint");
    f.close();
    hook.get(10, TimeUnit.SECONDS);
    assertFalse(Files.exists(dir.resolve(TrainingMetrics.FILE)), "the run writes the rows with its files, not the hook");

    // a signal during the last step: the hook, waiting for a boundary, waits for the run's files once the loop ends
    TrainingMetrics last = new TrainingMetrics();
    StopFlush g = quietHook(last, TimeUnit.SECONDS.toNanos(30));
    CompletableFuture<Void> waiting = CompletableFuture.runAsync(g::flush);
    Thread.sleep(200);   // the hook asks for a boundary and waits (checkpointNow, which would answer it, is not called)
    g.finishing();   // the loop's last step: no stop checkpoint (Trainer asks checkpointNow only before the last step)
    Thread.sleep(300);
    assertFalse(waiting.isDone(), "the hook waits for the run's files");
    g.close();
    waiting.get(10, TimeUnit.SECONDS);
    assertFalse(Files.exists(dir.resolve(TrainingMetrics.FILE)), "the run writes the rows with its files, not the hook");

    // files that take longer than the wait: the hook says so and lets the shutdown go on
    ByteArrayOutputStream logged = new ByteArrayOutputStream();
    StopFlush slow = StopFlush.register(new TrainingMetrics(), new OutputDir(dir.toUri().toString(), new Configuration()),
        new PrintStream(logged, true, StandardCharsets.UTF_8), () -> { }, TimeUnit.MILLISECONDS.toNanos(200));
    try {
      slow.finishing();
      long t0 = System.nanoTime();
      CompletableFuture.runAsync(slow::flush).get(10, TimeUnit.SECONDS);
      assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(200), "waited");
      assertTrue(logged.toString(StandardCharsets.UTF_8).contains("while the run writes its final files"), logged.toString());
      assertTrue(logged.toString(StandardCharsets.UTF_8).contains("is lost; --resume writes the model again"), logged.toString());
    } finally {
      slow.close();
    }

    // a caller without --resume (RnnEstimator's fit) gives its own words: the line said --resume all the same
    ByteArrayOutputStream fitLogged = new ByteArrayOutputStream();
    StopFlush fit = StopFlush.register(new TrainingMetrics(), new OutputDir(dir.toUri().toString(), new Configuration()),
        new PrintStream(fitLogged, true, StandardCharsets.UTF_8), () -> { }, TimeUnit.MILLISECONDS.toNanos(100))
        .finalFilesAdvice(() -> "setInitialModel warm-starts a new fit");
    try {
      fit.finishing();
      CompletableFuture.runAsync(fit::flush).get(10, TimeUnit.SECONDS);
      String line = fitLogged.toString(StandardCharsets.UTF_8);
      assertTrue(line.contains("is lost; setInitialModel warm-starts a new fit"), line);
      assertFalse(line.contains("--resume"), line);
    } finally {
      fit.close();
    }
  }

  @Test
  void theHookWritesTheRowsSoFarAndTheLoopRecordsNoMore() throws Exception {
    TrainingMetrics metrics = new TrainingMetrics();
    ByteArrayOutputStream logged = new ByteArrayOutputStream();
    PrintStream log = new PrintStream(logged, true, StandardCharsets.UTF_8);
    StopFlush f = register(metrics, new OutputDir(dir.toUri().toString(), new Configuration()), log);
    try {
      f.step(() -> metrics.add(1, 0, 0.5, 1.0, 10, 2, null, null, null), () -> log.println("step 1"));
      f.step(() -> metrics.add(2, 0, 0.4, 1.0, 10, 2, null, null, null), () -> log.println("step 2"));
      assertFalse(f.flushed());
      assertFalse(Files.exists(dir.resolve(TrainingMetrics.FILE)), "written before the hook ran");

      f.flush();   // what the JVM's shutdown runs
      assertTrue(f.flushed());
      List<String> rows = Files.readAllLines(dir.resolve(TrainingMetrics.FILE));
      assertEquals(2, rows.size(), String.join("\n", rows));
      assertTrue(rows.get(1).startsWith("{\"step\":2,"), rows.get(1));

      AtomicBoolean ran = new AtomicBoolean();
      assertThrows(StopFlush.Stopping.class, () -> f.step(() -> ran.set(true), () -> ran.set(true)));
      assertFalse(ran.get(), "a step recorded after the rows were written: its line would show a step the file lacks");
      assertEquals(2, metrics.rows().size());
      assertEquals("step 1\nstep 2\n", logged.toString(StandardCharsets.UTF_8));
    } finally {
      f.close();
    }
  }

  /**
   * A line that cannot be printed (stdout not drained) must not hold the hook: Hadoop runs its hooks
   * on one thread, so a hook waiting on it held back Spark's and the file system's (a review: the
   * JVM took 120 s to end on SIGTERM). The row is recorded under the lock, the line printed after.
   */
  @Test
  void aPrintThatBlocksHoldsNeitherTheHookNorTheRowBack() throws Exception {
    TrainingMetrics metrics = new TrainingMetrics();
    StopFlush f = register(metrics, new OutputDir(dir.toUri().toString(), new Configuration()),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    CountDownLatch printing = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    ExecutorService loop = Executors.newSingleThreadExecutor();
    try {
      Future<?> step = loop.submit(() -> f.step(() -> metrics.add(1, 0, 0.5, 1.0, 10, 2, null, null, null), () -> {
        printing.countDown();
        awaitQuietly(release);   // a write to a pipe nobody reads
      }));
      assertTrue(printing.await(10, TimeUnit.SECONDS));
      CompletableFuture.runAsync(f::flush).get(10, TimeUnit.SECONDS);   // times out if the hook waits on the print
      assertEquals(1, Files.readAllLines(dir.resolve(TrainingMetrics.FILE)).size(), "the row whose line was being printed");
      release.countDown();
      step.get(10, TimeUnit.SECONDS);
    } finally {
      release.countDown();
      loop.shutdownNow();
      f.close();
    }
  }

  @Test
  void theHookIsRegisteredWhileTrainingOnlyAndAheadOfSparks() throws Exception {
    // Spark's object ShutdownHookManager registers its manager (whose hooks stop the SparkContext and
    // remove its temporary folders) with Hadoop's when it is first used; read that registration
    int sparkTempDirs = org.apache.spark.util.ShutdownHookManager.TEMP_DIR_SHUTDOWN_PRIORITY();
    assertTrue(sparkTempDirs < org.apache.spark.util.ShutdownHookManager.SPARK_CONTEXT_SHUTDOWN_PRIORITY());
    StopFlush f = register(new TrainingMetrics(), new OutputDir(dir.toUri().toString(), new Configuration()),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    try {
      Map<String, Integer> priorities = new LinkedHashMap<>();
      long ourTimeout = -1;
      Method inOrder = ShutdownHookManager.class.getDeclaredMethod("getShutdownHooksInOrder");
      inOrder.setAccessible(true);
      for (Object entry : (List<?>) inOrder.invoke(ShutdownHookManager.get())) {
        Method hook = entry.getClass().getDeclaredMethod("getHook");
        Method priority = entry.getClass().getDeclaredMethod("getPriority");
        Method timeout = entry.getClass().getDeclaredMethod("getTimeout");
        hook.setAccessible(true);
        priority.setAccessible(true);
        timeout.setAccessible(true);
        Object h = hook.invoke(entry);
        priorities.put(h == f.hook ? "ours" : h.getClass().getName(), (Integer) priority.invoke(entry));
        if (h == f.hook) {
          ourTimeout = (Long) timeout.invoke(entry);
        }
      }
      Integer spark = priorities.entrySet().stream().filter(e -> e.getKey().startsWith("org.apache.spark.util.SparkShutdownHookManager"))
          .map(Map.Entry::getValue).findFirst().orElse(null);
      assertTrue(spark != null && priorities.get("ours") != null, "Spark's and ours among Hadoop's hooks: " + priorities);
      assertTrue(priorities.get("ours") > spark, "ours runs first (higher priority first): " + priorities);
      assertTrue(spark > FileSystem.SHUTDOWN_HOOK_PRIORITY, "and the file systems close after both: " + priorities);
      assertEquals(StopFlush.TIMEOUT_S, ourTimeout, "seconds before Spark's hook runs anyway");
      // a stuck write must leave Spark's own hook its time within a pod's default grace period (30 s on
      // Kubernetes, then SIGKILL): the first version's 120 s outlived it (a mutation audit: the value was unchecked)
      assertTrue(ourTimeout <= 10, "our hook's timeout, s: " + ourTimeout);
      assertTrue(StopFlush.CHECKPOINT_WAIT_S + 2 <= ourTimeout, "the wait for a checkpoint leaves the rows' write its time");
    } finally {
      f.close();
    }
    assertFalse(ShutdownHookManager.get().hasShutdownHook(f.hook), "the hook stays after training");
  }

  /** A step whose row is being recorded holds the hook: the file then has the row (S7: flush without the lock). */
  @Test
  void theHookWaitsForTheRowBeingRecorded() throws Exception {
    TrainingMetrics metrics = new TrainingMetrics();
    StopFlush f = register(metrics, new OutputDir(dir.toUri().toString(), new Configuration()),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    CountDownLatch recording = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    ExecutorService loop = Executors.newSingleThreadExecutor();
    try {
      Future<?> step = loop.submit(() -> f.step(() -> {
        recording.countDown();
        awaitQuietly(release);
        metrics.add(1, 0, 0.5, 1.0, 10, 2, null, null, null);
      }, () -> { }));
      assertTrue(recording.await(10, TimeUnit.SECONDS));
      CompletableFuture<Void> hook = CompletableFuture.runAsync(f::flush);
      Thread.sleep(300);
      release.countDown();
      hook.get(10, TimeUnit.SECONDS);
      step.get(10, TimeUnit.SECONDS);
      assertEquals(1, Files.readAllLines(dir.resolve(TrainingMetrics.FILE)).size(), "the row recorded as the hook ran");
    } finally {
      release.countDown();
      loop.shutdownNow();
      f.close();
    }
  }

  /** A write that fails is said on the log, not thrown into Hadoop's hook thread (S6). */
  @Test
  void aWriteThatFailsIsLogged() throws Exception {
    Path notADir = Files.writeString(dir.resolve("a-file"), "x");
    ByteArrayOutputStream logged = new ByteArrayOutputStream();
    StopFlush f = register(new TrainingMetrics(), new OutputDir(notADir.toUri().toString(), new Configuration()),
        new PrintStream(logged, true, StandardCharsets.UTF_8));
    try {
      f.flush();
      assertTrue(f.flushed());
      assertTrue(logged.toString(StandardCharsets.UTF_8).startsWith("could not write " + TrainingMetrics.FILE
          + " while the JVM shut down: "), logged.toString(StandardCharsets.UTF_8));
    } finally {
      f.close();
    }
  }

  /**
   * A stop checkpoint still being written at the wait's deadline is waited for to its end: the hook
   * returning under it would let Spark's hook and the file systems' close run under the write (a
   * mutation audit: no test held the hook while the loop checkpointed).
   */
  @Test
  void aCheckpointPastTheDeadlineIsWaitedFor() throws Exception {
    TrainingMetrics metrics = new TrainingMetrics();
    StopFlush f = quietHook(metrics, TimeUnit.MILLISECONDS.toNanos(300));
    try {
      CompletableFuture<Void> hook = CompletableFuture.runAsync(f::flush);
      awaitCheckpointRequest(f);
      Thread.sleep(1000);   // the checkpoint outlasts the 300 ms wait
      assertFalse(hook.isDone(), "the hook returned while the stop checkpoint was being written");
      f.checkpointed();
      hook.get(10, TimeUnit.SECONDS);
    } finally {
      f.close();
    }
  }

  /** A hook interrupted (Hadoop's timeout) while the loop writes its checkpoint does not write the rows beside it (a mutation audit). */
  @Test
  void anInterruptedHookLeavesTheRowsToTheCheckpointingLoop() throws Exception {
    TrainingMetrics metrics = new TrainingMetrics();
    StopFlush f = quietHook(metrics, TimeUnit.SECONDS.toNanos(30));
    try {
      f.step(() -> metrics.add(1, 0, 0.5, 1.0, 10, 2, null, null, null), () -> { });
      Thread hook = new Thread(f::flush);
      hook.start();
      awaitCheckpointRequest(f);
      hook.interrupt();
      hook.join(10_000);
      assertFalse(hook.isAlive());
      assertFalse(f.flushed(), "the hook wrote the rows while the loop was writing them with its checkpoint");
      assertFalse(Files.exists(dir.resolve(TrainingMetrics.FILE)));
      f.checkpointed();
    } finally {
      f.close();
    }
  }

  /** Plays the training loop at its boundary: polls until the hook has asked for a checkpoint, and takes it on. */
  private static void awaitCheckpointRequest(StopFlush f) throws InterruptedException {
    while (!f.checkpointNow()) {
      Thread.sleep(5);
    }
  }

  /** Waits for {@code latch} in a step's runnable, which may not throw: an interrupt is kept, not lost. */
  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
