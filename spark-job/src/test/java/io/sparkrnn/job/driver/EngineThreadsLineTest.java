package io.sparkrnn.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.jvm.JvmEngine;
import org.junit.jupiter.api.Test;

/**
 * train's start line and report.md name the JVM engine's threads only where a JVM engine runs, and
 * on a local master the count the tasks use: -Dsparkrnn.jvm.threads wins over Spark's count (the
 * line said 2 while the engine ran 1 thread, and named threads for an OpenCL device).
 */
class EngineThreadsLineTest {
  @Test
  void noJvmEngineNoThreadCount() {
    assertNull(Trainer.jvmEngineThreads("kernel", "cpu-opencl", 2, "local[2]"));
    assertNull(Trainer.jvmEngineThreads("kernel", "gpu", 2, "local[2]"));
    assertNull(Trainer.jvmEngineThreads("reference", "jvm", 2, "local[2]"));
  }

  @Test
  void theOverridingPropertyIsTheCountOnALocalMaster() {
    String before = System.getProperty(JvmEngine.THREADS_PROPERTY);
    try {
      System.setProperty(JvmEngine.THREADS_PROPERTY, "1");
      assertEquals("1 JVM engine thread per task", Trainer.jvmEngineThreads("kernel", "jvm", 2, "local[2]"));
      // a cluster's executors resolve their own: the driver's property is not theirs
      String cluster = Trainer.jvmEngineThreads("kernel", "jvm", 2, "spark://127.0.0.1:7077");
      assertTrue(cluster.startsWith("2 JVM engine threads per task") && cluster.contains("-Dsparkrnn.jvm.threads"), cluster);
      System.clearProperty(JvmEngine.THREADS_PROPERTY);
      // Spark's count, capped at this host's cores (a task never gets more threads than there are cores)
      int cores = Runtime.getRuntime().availableProcessors();
      assertEquals(cores + " JVM engine thread" + (cores == 1 ? "" : "s") + " per task",
          Trainer.jvmEngineThreads("kernel", "jvm", cores + 1, "local[*]"));
    } finally {
      if (before == null) {
        System.clearProperty(JvmEngine.THREADS_PROPERTY);
      } else {
        System.setProperty(JvmEngine.THREADS_PROPERTY, before);
      }
    }
  }
}
