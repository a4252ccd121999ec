package io.sparkrnn.job.driver;

import io.sparkrnn.fs.OutputDir;
import io.sparkrnn.job.report.TrainingMetrics;
import java.io.IOException;
import java.io.PrintStream;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.util.ShutdownHookManager;

/**
 * Writes the steps since the last checkpoint to metrics.jsonl when the JVM starts to shut down
 * (SIGTERM from YARN or Kubernetes, Ctrl-C) while train runs, before Spark stops its context.
 *
 * <p>Why a hook of its own: the training loop's failure path also writes them, but Spark's hook
 * stops the context under a step that may take longer to fail than the JVM waits, and the JVM then
 * halts with the rows in memory only (a CI run lost steps 21..29 that way). Hadoop's hook manager
 * runs its hooks one after another, highest priority first: Spark's run at
 * {@code FileSystem.SHUTDOWN_HOOK_PRIORITY + 30} (it stops the context) and the FileSystem cache
 * closes at {@code FileSystem.SHUTDOWN_HOOK_PRIORITY}, so this one, at +40, finds both alive.
 *
 * <p>Every step line the log shows is in the file: the loop records a step's row in {@link #step},
 * under the lock the hook writes under, and prints its line after; once the hook has written, the
 * loop records nothing more and ends with {@link Stopping}. Only the in-memory row is taken under
 * the lock, never the print: Hadoop runs its hooks on one thread, so a hook waiting on a print
 * blocked by an undrained stdout held back Spark's hook and the file system's (a review: SIGTERM
 * then took 120 s to end the JVM, against 10 s), and the hook's own write has {@link #TIMEOUT_S}.
 */
final class StopFlush implements AutoCloseable {
  static final int PRIORITY = FileSystem.SHUTDOWN_HOOK_PRIORITY + 40;
  /** Seconds Hadoop's manager gives the hook before it moves on to Spark's (its default is 30). */
  static final long TIMEOUT_S = 10;

  /** Thrown by {@link #step} once the hook has written the rows: the JVM is shutting down. */
  static final class Stopping extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Stopping() {
      super("the JVM is shutting down (a signal such as SIGTERM, or Ctrl-C)");
    }
  }

  private final TrainingMetrics metrics;
  private final OutputDir out;
  private final PrintStream log;
  /** What Hadoop's hook manager holds while training runs. */
  final Runnable hook = this::flush;
  private boolean flushed;

  private StopFlush(TrainingMetrics metrics, OutputDir out, PrintStream log) {
    this.metrics = metrics;
    this.out = out;
    this.log = log;
  }

  /** Registers the hook until {@link #close}. */
  static StopFlush register(TrainingMetrics metrics, OutputDir out, PrintStream log) {
    StopFlush f = new StopFlush(metrics, out, log);
    ShutdownHookManager.get().addShutdownHook(f.hook, PRIORITY, TIMEOUT_S, TimeUnit.SECONDS);
    return f;
  }

  /**
   * Records a step's metrics row ({@code record}, under the lock) and then prints its line
   * ({@code print}, outside it), unless the hook has written the file: then throws {@link Stopping}.
   */
  void step(Runnable record, Runnable print) {
    synchronized (this) {
      if (flushed) {
        throw new Stopping();
      }
      record.run();
    }
    print.run();
  }

  /** Whether the hook has written metrics.jsonl: the loop's own failure path then has nothing to add. */
  synchronized boolean flushed() {
    return flushed;
  }

  /** What the hook runs: writes the rows recorded so far, once; {@link #step} then records no more. */
  synchronized void flush() {
    if (flushed) {
      return;
    }
    flushed = true;
    try {
      metrics.write(out);
    } catch (IOException | RuntimeException e) {
      log.println("could not write " + TrainingMetrics.FILE + " while the JVM shut down: " + e);
    }
  }

  @Override
  public void close() {
    try {
      ShutdownHookManager.get().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // the JVM is shutting down: the hook runs (or ran) on its own
    }
  }
}
