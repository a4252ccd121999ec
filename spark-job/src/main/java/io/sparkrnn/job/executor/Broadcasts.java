package io.sparkrnn.job.executor;

import org.apache.spark.SparkEnv;
import org.apache.spark.broadcast.Broadcast;

/** Freeing a job's broadcast in a {@code finally}, which may run after the context has stopped. */
public final class Broadcasts {
  private Broadcasts() {}

  /**
   * Destroys {@code broadcast} on the executors and the driver, unless the context has stopped
   * (Ctrl-C, a notebook's {@code spark.stop()} during a run): that freed it already, and destroying
   * then throws a NullPointerException (no SparkEnv) over the exception that ended the job.
   */
  public static void destroy(Broadcast<?> broadcast) {
    if (SparkEnv.get() != null) {
      broadcast.destroy();
    }
  }
}
