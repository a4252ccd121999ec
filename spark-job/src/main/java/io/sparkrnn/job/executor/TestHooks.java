package io.sparkrnn.job.executor;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;

/**
 * The fault-injection hooks the tests use (a NaN gradient, a failing barrier task, a pause inside
 * a checkpoint write) are armed only under Spark's own testing flag, as Spark gates its test-only
 * behaviour: {@code spark.testing} in the configuration or as a system property, or
 * {@code SPARK_TESTING} in the environment. Without it their settings do nothing, so no user
 * setting reaches them by accident.
 */
public final class TestHooks {
  /** Spark's testing flag ({@code org.apache.spark.internal.config.Tests.IS_TESTING}). */
  public static final String FLAG = "spark.testing";

  /**
   * "STEP:MARKER": partition 1 halts its executor's JVM in the middle of its step STEP (0-based)
   * of the reduction tree, after its part's header and before its gradient, if it can create the
   * file MARKER (so once per run, whatever reruns follow). An executor lost mid-reduction.
   */
  public static final String HALT_MID_REDUCTION = "spark.sparkrnn.test.haltMidReduction";

  private TestHooks() {}

  static boolean armed(SparkConf conf) {
    return conf.contains(FLAG) || System.getProperty(FLAG) != null || System.getenv("SPARK_TESTING") != null;
  }

  /**
   * Halts this JVM (exit status 137, as a kill -9 reports) when {@link #HALT_MID_REDUCTION} names
   * this step and the marker file could be created now; otherwise returns.
   */
  public static void haltMidReduction(long step) {
    SparkEnv env = SparkEnv.get();
    if (env == null || !armed(env.conf()) || !env.conf().contains(HALT_MID_REDUCTION)) {
      return;
    }
    String[] stepAndMarker = env.conf().get(HALT_MID_REDUCTION).split(":", 2);
    if (Long.parseLong(stepAndMarker[0]) != step) {
      return;
    }
    try {
      if (new File(stepAndMarker[1]).createNewFile()) {
        Runtime.getRuntime().halt(137);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("test hook " + HALT_MID_REDUCTION, e);
    }
  }

  /** The step a hook's setting names, or −1 when it is not set or the hooks are not armed. */
  public static long step(SparkConf conf, String key) {
    return armed(conf) ? conf.getLong(key, -1) : -1;
  }
}
