package io.sparkrnn.fs;

/** Whether the JVM is shutting down (Ctrl-C, SIGTERM): then a failure is the stop's, not one to retry or report. */
public final class JvmShutdown {
  private JvmShutdown() {}

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
}
