package io.sparkrnn.job;

import org.apache.spark.SparkConf;

/**
 * The fault-injection hooks the tests use (a NaN gradient, a failing barrier task, a pause inside
 * a checkpoint write) are armed only under Spark's own testing flag, as Spark gates its test-only
 * behaviour: {@code spark.testing} in the configuration or as a system property, or
 * {@code SPARK_TESTING} in the environment. Without it their settings do nothing, so no user
 * setting reaches them by accident.
 */
final class TestHooks {
  /** Spark's testing flag ({@code org.apache.spark.internal.config.Tests.IS_TESTING}). */
  static final String FLAG = "spark.testing";

  private TestHooks() {}

  static boolean armed(SparkConf conf) {
    return conf.contains(FLAG) || System.getProperty(FLAG) != null || System.getenv("SPARK_TESTING") != null;
  }

  /** The step a hook's setting names, or −1 when it is not set or the hooks are not armed. */
  static long step(SparkConf conf, String key) {
    return armed(conf) ? conf.getLong(key, -1) : -1;
  }
}
