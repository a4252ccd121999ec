package io.sparkrnn.fs;

import io.sparkrnn.data.JvmStop;

/** Whether the JVM is shutting down (Ctrl-C, SIGTERM): then a failure is the stop's, not one to retry or report. */
public final class JvmShutdown {
  private JvmShutdown() {}

  /** Whether the JVM has begun to shut down: a hook can no longer be added then. */
  public static boolean inProgress() {
    return JvmStop.inProgress();
  }
}
