package io.sparkrnn.data;

import java.util.concurrent.CancellationException;

/**
 * Whether the JVM is shutting down (Ctrl-C, SIGTERM), for work that runs outside Spark and would go
 * on under the signal: a local prep kept writing shards after the command said it stopped, then
 * published its dataset or was halted mid-write (a kill audit).
 */
public final class JvmStop {
  private JvmStop() {}

  /** Whether the JVM has begun to shut down: a hook can no longer be added then. */
  public static boolean inProgress() {
    Thread probe = new Thread(() -> { });
    try {
      Runtime.getRuntime().addShutdownHook(probe);
    } catch (IllegalStateException e) {
      return true;
    }
    Runtime.getRuntime().removeShutdownHook(probe);
    return false;
  }

  /**
   * Throws once the JVM is shutting down, so that the caller's try-with-resources undoes what it
   * wrote (a DatasetWriter aborts).
   *
   * @param what the work and where it stands, as the exception names it
   */
  public static void check(String what) {
    if (inProgress()) {
      throw new CancellationException(what + ": stopped, the JVM is shutting down (Ctrl-C or a signal); what was written"
          + " is removed");
    }
  }
}
