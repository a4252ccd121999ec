package io.sparkrnn.fs;

import io.sparkrnn.kernel.BadInputException;
import java.util.Locale;

/**
 * Checks an estimate of the memory a command is about to allocate against the heap left in this
 * JVM, so that values inside the allowed ranges (a huge hidden size, batch or step count, a model
 * file larger than the heap) are refused with the estimate, the limit and what to change, instead
 * of ending in an OutOfMemoryError.
 */
public final class MemoryBudget {
  private MemoryBudget() {}

  /** Heap this JVM may still allocate: the maximum less what is in use now. */
  public static long available() {
    Runtime r = Runtime.getRuntime();
    return r.maxMemory() - (r.totalMemory() - r.freeMemory());
  }

  /**
   * Refuses when {@code bytes} is more than {@link #available()}.
   *
   * @param what names the allocation ("generate --steps 2000000000 for 1 sequence")
   * @param advice what to change, e.g. "generate fewer steps"
   */
  public static void require(String what, long bytes, String advice) {
    long free = available();
    if (bytes > free) {
      throw new BadInputException(what + " needs about " + mb(bytes) + " of memory, more than the " + mb(free)
          + " this JVM has left (heap " + mb(Runtime.getRuntime().maxMemory()) + "); " + advice + ", or give it more heap "
          + "(SPARK_RNN_JAVA_OPTS=-Xmx… for bin/spark-rnn, spark.driver.memory under spark-submit)");
    }
  }

  /** Refuses a count of array elements that one Java array cannot hold. */
  public static void requireOneArray(String what, long elements, String advice) {
    if (elements > Integer.MAX_VALUE - 8) {
      throw new BadInputException(what + " is " + elements + " values, more than one array holds (2^31 − 1); "
          + advice);
    }
  }

  static String mb(long bytes) {
    return String.format("%,d MB", (bytes + (1 << 20) - 1) >> 20);
  }

  /**
   * Bytes in MB of 10^6 to one decimal, or in kB under 1 MB, where one decimal of a MB printed a
   * test-sized cache or buffer as "0.0 MB" and 127,000 bytes as "0.1 MB" (a user audit).
   */
  public static String size(long bytes) {
    return bytes < 1_000_000 ? String.format(Locale.ROOT, "%,.1f kB", bytes / 1e3)
        : String.format(Locale.ROOT, "%,.1f MB", bytes / 1e6);
  }
}
