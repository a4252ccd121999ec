package io.sparkrnn.kernel.jvm;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * The launchers pass the JVM options the engine's speed depends on: without loop strip mining
 * (ParallelGC's and SerialGC's default) the matrix products ran about a fifth slower, which no
 * result shows, only a warning and the bench.
 */
class JvmOptionsTest {

  private static final Path ROOT = Path.of("..");

  @Test
  void launcherAndSparkDefaultsKeepLoopStripMiningOn() throws IOException {
    String launcher = Files.readString(ROOT.resolve("bin/spark-rnn"));
    assertTrue(launcher.contains("exec java " + MathKernels.STRIP_MINING_OPTIONS + " ${SPARK_RNN_JAVA_OPTS"),
        "bin/spark-rnn passes " + MathKernels.STRIP_MINING_OPTIONS + " before the user's options");
    Properties defaults = new Properties(); // as Spark reads a properties file
    try (Reader in = Files.newBufferedReader(ROOT.resolve("conf/spark-defaults.conf"))) {
      defaults.load(in);
    }
    for (String key : List.of("spark.driver.defaultJavaOptions", "spark.executor.defaultJavaOptions")) {
      String options = defaults.getProperty(key, "");
      assertTrue(options.contains(MathKernels.STRIP_MINING_OPTIONS), "conf/spark-defaults.conf: " + key + " = " + options);
    }
  }
}
