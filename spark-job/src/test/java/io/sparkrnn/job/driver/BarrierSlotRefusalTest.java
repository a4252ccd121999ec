package io.sparkrnn.job.driver;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Prep;
import io.sparkrnn.data.PrepOptions;
import io.sparkrnn.data.source.SineSource;
import io.sparkrnn.job.sync.BarrierTraining;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Spark's barrier slot refusal met by a running trainer (Trainer.runInScope): the refusal is
 * completed with where to resume from, after exactly one period. A local[2] master whose tasks take
 * 2 cores each (spark.task.cpus) runs 1 task at once, so a barrier stage of 2 partitions passes
 * checkCanRun (2 threads) and is then refused by Spark itself, as a cluster that lost a worker does.
 */
class BarrierSlotRefusalTest {
  @TempDir
  static Path tmp;

  @Test
  void aSlotRefusalNamesWhereToResumeFrom() throws IOException {
    Configuration hadoop = new Configuration();
    String sine = tmp.resolve("sine").toUri().toString();
    Prep.run(new SineSource(SineSource.Options.defaults(20, 8 * 16, 7)), new PrepOptions(tmp.resolve("sine").toUri(), 16, 0.125,
        false, false), hadoop);
    Map<String, String> props = Map.of("spark.task.cpus", "2", "spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures", "1",
        "spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s");
    props.forEach(System::setProperty);
    JavaSparkContext sc;
    try {
      sc = SparkSetup.start("spark-rnn slot refusal test", "local[2]");
    } finally {
      props.keySet().forEach(System::clearProperty);
    }
    try {
      Map<String, String> m = SparkTrainingTest.sineConfig(tmp.resolve("refused").toUri().toString());
      m.put("data", sine);
      m.put("sync", "barrier");
      m.put("partitions", "2");
      Trainer t = Trainer.prepare(m, hadoop, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
      BarrierTraining.SlotsRefusedException e = assertThrows(BarrierTraining.SlotsRefusedException.class, () -> t.run(sc));
      String msg = e.getMessage();
      assertTrue(msg.startsWith("sync barrier: the cluster does not offer 2 task slots at once (one per partition), or no"
          + " longer does"), msg);
      assertTrue(msg.contains("SPARK-24819"), msg);
      assertTrue(msg.matches("(?s).*[^.]\\. No checkpoint was written yet \\(nothing to resume from\\)\\."), msg);
      assertTrue(!msg.contains("..") && !msg.contains(". . "), "one period before the checkpoint: " + msg);
    } finally {
      sc.close();
    }
  }
}
