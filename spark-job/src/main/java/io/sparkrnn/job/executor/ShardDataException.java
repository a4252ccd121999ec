package io.sparkrnn.job.executor;

import io.sparkrnn.kernel.BadInputException;

/**
 * A shard that fails its checks (size, CRC32C, dtypes, shapes, values): deterministic, so
 * retrying the task cannot help. {@link GradientTask} returns it to the driver inside a
 * successful result instead of throwing, so Spark does not run the task again
 * ({@code spark.task.maxFailures} stays for what a retry can fix: a lost executor, a datanode
 * that timed out), and the driver stops the job with this message on the first attempt.
 */
public final class ShardDataException extends BadInputException {
  private static final long serialVersionUID = 1L;

  public ShardDataException(String message) {
    super(message);
  }

  public ShardDataException(String message, Throwable cause) {
    super(message, cause);
  }
}
