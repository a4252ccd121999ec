package io.sparkrnn.kernel.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
    List<String> lines = Files.readAllLines(ROOT.resolve("conf/spark-defaults.conf"));
    long withOptions = lines.stream()
        .filter(l -> l.startsWith("spark.driver.extraJavaOptions") || l.startsWith("spark.executor.extraJavaOptions"))
        .filter(l -> l.contains(MathKernels.STRIP_MINING_OPTIONS))
        .count();
    assertEquals(2, withOptions, "conf/spark-defaults.conf: the driver's and the executors' extraJavaOptions");
  }
}
