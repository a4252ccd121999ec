package io.sparkrnn.job.driver;

import io.sparkrnn.fs.OutputDir;
import io.sparkrnn.job.report.TrainingMetrics;
import java.io.IOException;
import java.io.PrintStream;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
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
 *
 * <p>A checkpoint too: the hook first asks the loop for one and waits up to {@link #CHECKPOINT_WAIT_S}.
 * The loop's state is its own (under {@code --sync job} the update changes the parameters in
 * place), so the loop writes it, at its next step boundary ({@link #checkpointNow}): after the step
 * in flight, or the barrier segment's, which {@code endSegments} ends after that step. A run
 * stopped by a scheduler (Kubernetes gives 30 s) or Ctrl-C then resumes from the step it reached,
 * not from the last scheduled checkpoint. A loop that does not get there in time (a long step,
 * executors gone with the driver) leaves the hook to write the rows alone, as before.
 */
final class StopFlush implements AutoCloseable {
  static final int PRIORITY = FileSystem.SHUTDOWN_HOOK_PRIORITY + 40;
  /** Seconds Hadoop's manager gives the hook before it moves on to Spark's (its default is 30). */
  static final long TIMEOUT_S = 10;
  /** Seconds the hook waits for the loop to reach a step boundary and checkpoint; then it writes the rows alone. */
  static final long CHECKPOINT_WAIT_S = 7;

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
  /** Asks the step in flight to be the last of its barrier segment (run by the hook before it waits). */
  private final Runnable endSegments;
  private final long checkpointWaitNanos;
  /**
   * What the hook's "final files" line advises after "what is not written yet is lost; ": train's
   * "--resume writes the model again", or its caller's words (RnnEstimator's fit has no --resume).
   */
  private Supplier<String> finalFilesAdvice = () -> "--resume writes the model again";
  /** What Hadoop's hook manager holds while training runs. */
  final Runnable hook = this::flush;
  /** The rows are written (by the hook, or by the loop with its stop checkpoint): the loop records no more. */
  private boolean flushed;
  /** The hook asks for a checkpoint at the next step boundary. */
  private boolean requested;
  /** The loop is writing that checkpoint (and the rows): the hook waits for it rather than write beside it. */
  private boolean checkpointing;
  /** The loop has ended with its last step and the run writes its files (rows, checkpoint, model, report). */
  private boolean finishing;
  /** The loop has ended (however) and, after {@link #finishing}, the run's files are written: no boundary will come. */
  private boolean ended;

  private StopFlush(TrainingMetrics metrics, OutputDir out, PrintStream log, Runnable endSegments, long checkpointWaitNanos) {
    this.metrics = metrics;
    this.out = out;
    this.log = log;
    this.endSegments = endSegments;
    this.checkpointWaitNanos = checkpointWaitNanos;
  }

  /** Registers the hook until {@link #close}; {@code endSegments} ends barrier segments after their step in flight. */
  static StopFlush register(TrainingMetrics metrics, OutputDir out, PrintStream log, Runnable endSegments) {
    return register(metrics, out, log, endSegments, TimeUnit.SECONDS.toNanos(CHECKPOINT_WAIT_S));
  }

  static StopFlush register(TrainingMetrics metrics, OutputDir out, PrintStream log, Runnable endSegments, long checkpointWaitNanos) {
    StopFlush f = new StopFlush(metrics, out, log, endSegments, checkpointWaitNanos);
    ShutdownHookManager.get().addShutdownHook(f.hook, PRIORITY, TIMEOUT_S, TimeUnit.SECONDS);
    return f;
  }

  /** Replaces what the hook's "final files" line advises (a caller without --resume); returns this. */
  StopFlush finalFilesAdvice(Supplier<String> advice) {
    this.finalFilesAdvice = advice;
    return this;
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

  /**
   * What the hook runs: asks the loop for a checkpoint at its next step boundary and waits for it
   * (the loop writes the rows with it), up to the wait; else writes the rows recorded so far. Once;
   * {@link #step} then records no more.
   */
  synchronized void flush() {
    if (flushed) {
      return;
    }
    long deadline = System.nanoTime() + checkpointWaitNanos;
    try {
      if (!ended && !finishing) {
        requested = true;
        endSegments.run();
        // wait() lets the loop take the lock to record its steps and reach the boundary; a checkpoint
        // being written is waited for to its end (Hadoop's TIMEOUT_S interrupts a hook that overruns)
        for (long left = checkpointWaitNanos; !flushed && !ended && !finishing && (checkpointing || left > 0);
            left = deadline - System.nanoTime()) {
          wait(checkpointing ? 100 : Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
      }
      // the last step is done and the run writes its files: waited for, to the same deadline, rather than written
      // beside (a signal then cut off the report, the run that trained leaving none: an audit)
      for (long left = deadline - System.nanoTime(); finishing && !flushed && !ended && left > 0;
          left = deadline - System.nanoTime()) {
        wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
      }
    } catch (InterruptedException e) {   // Hadoop's timeout
      Thread.currentThread().interrupt();
    }
    if (finishing && !flushed) {   // the run's own files hold the rows, or will, if it gets there
      flushed = true;
      if (!ended) {
        log.println("the JVM is shutting down while the run writes its final files (metrics, checkpoint, model, report): what"
            + " is not written yet is lost; " + finalFilesAdvice.get());
      }
      return;
    }
    if (checkpointing) {   // the loop is writing the rows with its checkpoint
      return;
    }
    writeRowsOnce("while the JVM shut down");
  }

  /**
   * Writes the rows recorded so far unless they were written (by the hook, or with the stop
   * checkpoint): once, under the lock, so the hook and a loop that failed never write side by side.
   */
  synchronized void writeRowsOnce(String when) {
    if (flushed) {
      return;
    }
    flushed = true;
    try {
      metrics.write(out);
    } catch (IOException | RuntimeException e) {
      log.println("could not write " + TrainingMetrics.FILE + " " + when + ": " + e);
    }
  }

  /**
   * At a step boundary (the loop's state is that of its last step): whether the hook asks for a
   * checkpoint now. If so the caller writes the rows and the checkpoint, calls {@link #checkpointed}
   * and ends. False once the hook has given up waiting (it wrote the rows; the next step stops).
   */
  synchronized boolean checkpointNow() {
    if (!requested || flushed) {
      return false;
    }
    checkpointing = true;
    return true;
  }

  /** Whether the hook has asked for a checkpoint (a test's view of a signal delivered). */
  synchronized boolean requested() {
    return requested;
  }

  /**
   * The loop has ended with its last step: a signal from now on waits (up to the wait) for the
   * run's files, which {@link #close} says are written, instead of asking for a checkpoint.
   */
  synchronized void finishing() {
    finishing = true;
    notifyAll();   // a hook waiting for a boundary now waits for the run's files instead
  }

  /** The loop has written the rows and its stop checkpoint (or failed to): the hook returns. */
  synchronized void checkpointed() {
    checkpointing = false;
    flushed = true;
    notifyAll();
  }

  @Override
  public void close() {
    synchronized (this) {
      ended = true;
      notifyAll();
    }
    try {
      ShutdownHookManager.get().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // the JVM is shutting down: the hook runs (or ran) on its own
    }
  }
}
