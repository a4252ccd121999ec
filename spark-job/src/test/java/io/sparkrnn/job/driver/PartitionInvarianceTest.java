package io.sparkrnn.job.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.job.executor.ExecutorRuntime;
import io.sparkrnn.kernel.jvm.JvmEngine;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 15, items 2–4: the same model bits for 1, 2, 3 and 4 partitions under both sync modes, for
 * any JVM engine thread count, and after a resume on another partition count (local[4]: a barrier
 * stage of 4 tasks runs at once).
 */
class PartitionInvarianceTest {
  @TempDir
  static Path tmp;
  static JavaSparkContext sc;
  static String sine;

  @BeforeAll
  static void start() throws IOException {
    sine = tmp.resolve("sine").toUri().toString();
    // 8 shards of 8 sequences, T = 20
    Prep.run(new SineSource(SineSource.Options.defaults(20, 64, 3)), new PrepOptions(tmp.resolve("sine").toUri(), 8, 0.125, false, false),
        new Configuration());
    sc = SparkSetup.start("spark-rnn partition invariance tests", "local[4]");
  }

  @AfterAll
  static void stop() {
    if (sc != null) {
      sc.close();
    }
  }

  /**
   * Batch 12 in 6 virtual partitions of 2: 4 partitions take 1, 2, 1, 2 of them (P does not divide
   * V). An LSTM with truncated BPTT (carried states), Adam with clipping.
   */
  static Map<String, String> config(Path out, String engine, String sync, int partitions, int steps) {
    Map<String, String> m = SparkTrainingTest.sineConfig(out.toUri().toString());
    m.put("data", sine);
    m.put("cell", "lstm");
    m.put("hidden-size", "6");
    m.put("batch", "12");
    m.put("virtual-partitions", "6");
    m.put("tbptt", "10");
    m.put("clip-norm", "0.5");
    m.put("steps", Integer.toString(steps));
    m.put("checkpoint-every", "3");
    m.put("engine", engine);
    m.put("device", "jvm");
    m.put("sync", sync);
    m.put("partitions", Integer.toString(partitions));
    return m;
  }

  static Trainer.Summary train(Map<String, String> m) throws IOException {
    return Trainer.prepare(m, new Configuration(), SparkTrainingTest.quiet()).run(sc);
  }

  @ParameterizedTest(name = "engine {0}")
  @ValueSource(strings = {"kernel", "reference"})
  void onePartitionOrFourUnderEitherSyncGiveTheSameModelBytes(String engine) throws IOException {
    byte[] first = null;
    for (String sync : new String[] {"job", "barrier"}) {
      for (int partitions = 1; partitions <= 4; partitions++) {
        Path out = tmp.resolve("inv-" + engine + "-" + sync + partitions);
        train(config(out, engine, sync, partitions, 4));
        byte[] model = Files.readAllBytes(out.resolve("model.safetensors"));
        if (first == null) {
          first = model;
        } else {
          assertArrayEquals(first, model, engine + ": --sync " + sync + " on " + partitions + " partitions vs --sync job on 1");
        }
      }
    }
  }

  @Test
  void theJvmEnginesThreadCountDoesNotChangeTheBits() throws IOException {
    String before = System.getProperty(JvmEngine.THREADS_PROPERTY);
    byte[][] models = new byte[2][];
    try {
      for (int threads = 1; threads <= 2; threads++) {
        System.setProperty(JvmEngine.THREADS_PROPERTY, Integer.toString(threads));
        Path out = tmp.resolve("threads-" + threads);
        Trainer.Summary s = train(config(out, "kernel", "job", 1, 4));
        String expected = threads + (threads == 1 ? " thread)" : " threads)");
        assertTrue(s.devices().stream().anyMatch(d -> d.endsWith(expected)), "the engine ran on " + expected + ": " + s.devices());
        String report = Files.readString(out.resolve("report.md"));
        assertTrue(report.contains(expected + "\n") && report.contains("| partitions | 1 of 6 virtual partitions |"),
            "report.md shows what the executor used: " + report);
        // and the run's own line says the same count, not Spark's (local[4]'s, capped at the cores) that the property overrode
        assertTrue(report.contains("| JVM engine threads | " + threads + " JVM engine thread" + (threads == 1 ? "" : "s") + " per task"),
            "report.md's thread count is what ran: " + report);
        models[threads - 1] = Files.readAllBytes(out.resolve("model.safetensors"));
      }
    } finally {
      if (before == null) {
        System.clearProperty(JvmEngine.THREADS_PROPERTY);
      } else {
        System.setProperty(JvmEngine.THREADS_PROPERTY, before);
      }
    }
    assertArrayEquals(models[0], models[1], "-Dsparkrnn.jvm.threads=1 vs 2");
  }

  @Test
  void aRunResumedOnAnotherPartitionCountIsBitIdenticalToAnUninterruptedOne() throws IOException {
    Path whole = tmp.resolve("resume-whole");
    train(config(whole, "kernel", "barrier", 2, 6));
    Path split = tmp.resolve("resume-split");
    train(config(split, "kernel", "job", 3, 3)); // checkpoint at step 3
    Files.delete(split.resolve("model.safetensors"));
    Map<String, String> rest = config(split, "kernel", "barrier", 4, 6);
    rest.put("resume", "true");
    train(rest);
    assertArrayEquals(Files.readAllBytes(whole.resolve("model.safetensors")), Files.readAllBytes(split.resolve("model.safetensors")),
        "3 steps on 3 partitions, resumed on 4, vs 6 steps on 2");
  }

  @Test
  void engineThreadsComeFromTheTaskCpusOrTheLocalMastersThreads() {
    SparkConf conf = new SparkConf(false);
    assertEquals(2, ExecutorRuntime.engineThreads(conf, "local[4]", 2), "4 local threads shared by 2 tasks");
    assertEquals(1, ExecutorRuntime.engineThreads(conf, "local[4]", 4));
    assertEquals(1, ExecutorRuntime.engineThreads(conf, "spark://h:7077", 4), "spark.task.cpus defaults to 1");
    conf.set("spark.task.cpus", "3");
    assertEquals(3, ExecutorRuntime.engineThreads(conf, "spark://h:7077", 4));
    assertEquals(3, ExecutorRuntime.engineThreads(conf, "local[4]", 4), "at least the task's CPUs");
  }
}
