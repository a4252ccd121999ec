package io.sparkrnn.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.jvm.MathKernels;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.apache.spark.SparkConf;
import org.apache.spark.internal.config.OptionalConfigEntry;
import org.apache.spark.internal.config.package$;
import org.junit.jupiter.api.Test;

/**
 * conf/spark-defaults.conf's JVM options survive a job's own: they are Spark's
 * {@code defaultJavaOptions}, which Spark's own config entries put before {@code extraJavaOptions}
 * (an {@code extraJavaOptions} in the file would be replaced by a job's {@code --conf}, and the
 * executors would lose the Vector API module and the Java 17 opens).
 */
class SparkDefaultsTest {
  private static final Path DEFAULTS = Path.of("..", "conf", "spark-defaults.conf");

  /** The file as spark-submit's --properties-file reads it (Utils.getPropertiesFromFile: Properties, UTF-8, values trimmed). */
  private static SparkConf defaults() throws IOException {
    Properties p = new Properties();
    try (Reader in = Files.newBufferedReader(DEFAULTS, StandardCharsets.UTF_8)) {
      p.load(in);
    }
    SparkConf conf = new SparkConf(false);
    for (String key : p.stringPropertyNames()) {
      conf.set(key, p.getProperty(key).trim());
    }
    return conf;
  }

  private static String resolved(SparkConf conf, OptionalConfigEntry<String> entry) {
    scala.Option<String> value = conf.get(entry);
    return value.isDefined() ? value.get() : "";
  }

  @Test
  void aJobsOwnJavaOptionsAddToTheDefaultsInsteadOfReplacingThem() throws IOException {
    SparkConf conf = defaults();
    conf.set("spark.executor.extraJavaOptions", "-Dsparkrnn.jvm.threads=1");
    conf.set("spark.driver.extraJavaOptions", "-Dsparkrnn.auto.budgetSeconds=3");
    String executor = resolved(conf, package$.MODULE$.EXECUTOR_JAVA_OPTIONS());
    String driver = resolved(conf, package$.MODULE$.DRIVER_JAVA_OPTIONS());
    for (String options : new String[] {executor, driver}) {
      assertTrue(options.contains("--add-modules=jdk.incubator.vector"), options);
      assertTrue(options.contains("--add-opens=java.base/sun.nio.ch=ALL-UNNAMED"), options);
      assertTrue(options.contains(MathKernels.STRIP_MINING_OPTIONS), options);
    }
    assertTrue(executor.endsWith(" -Dsparkrnn.jvm.threads=1"), executor);
    assertTrue(driver.endsWith(" -Dsparkrnn.auto.budgetSeconds=3"), driver);
  }

  @Test
  void withoutAJobsOwnOptionsTheDefaultsApply() throws IOException {
    SparkConf conf = defaults();
    assertEquals(conf.get("spark.executor.defaultJavaOptions"), resolved(conf, package$.MODULE$.EXECUTOR_JAVA_OPTIONS()));
    // the driver's are in extraJavaOptions too, for standalone's cluster deploy mode, whose submission client reads only that key
    assertEquals(conf.get("spark.driver.defaultJavaOptions"), conf.get("spark.driver.extraJavaOptions"));
    String driver = resolved(conf, package$.MODULE$.DRIVER_JAVA_OPTIONS());
    assertEquals(conf.get("spark.driver.defaultJavaOptions") + " " + conf.get("spark.driver.extraJavaOptions"), driver);
  }
}
