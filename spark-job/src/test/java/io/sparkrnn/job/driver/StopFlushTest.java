package io.sparkrnn.job.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.fs.OutputDir;
import io.sparkrnn.job.report.TrainingMetrics;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.util.ShutdownHookManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hook that writes metrics.jsonl on a signal: it writes the rows recorded so far, after it no
 * step is recorded (nor its line printed), and it runs before Spark's own hook stops the context.
 * SignalTest sends a real SIGTERM to train.
 */
class StopFlushTest {
  @TempDir
  Path dir;

  @Test
  void theHookWritesTheRowsSoFarAndTheLoopRecordsNoMore() throws Exception {
    TrainingMetrics metrics = new TrainingMetrics();
    ByteArrayOutputStream logged = new ByteArrayOutputStream();
    PrintStream log = new PrintStream(logged, true, StandardCharsets.UTF_8);
    StopFlush f = StopFlush.register(metrics, new OutputDir(dir.toUri().toString(), new Configuration()), log);
    try {
      f.step(() -> metrics.add(1, 0, 0.5, 1.0, 10, 2, null, null, null));
      f.step(() -> metrics.add(2, 0, 0.4, 1.0, 10, 2, null, null, null));
      assertFalse(f.flushed());
      assertFalse(Files.exists(dir.resolve(TrainingMetrics.FILE)), "written before the hook ran");

      f.flush();   // what the JVM's shutdown runs
      assertTrue(f.flushed());
      List<String> rows = Files.readAllLines(dir.resolve(TrainingMetrics.FILE));
      assertEquals(2, rows.size(), String.join("\n", rows));
      assertTrue(rows.get(1).startsWith("{\"step\":2,"), rows.get(1));

      AtomicBoolean ran = new AtomicBoolean();
      assertThrows(StopFlush.Stopping.class, () -> f.step(() -> ran.set(true)));
      assertFalse(ran.get(), "a step recorded after the rows were written: its line would show a step the file lacks");
      assertEquals(2, metrics.rows().size());
      assertEquals("", logged.toString(StandardCharsets.UTF_8));
    } finally {
      f.close();
    }
  }

  @Test
  void theHookIsRegisteredWhileTrainingOnlyAndAheadOfSparks() throws Exception {
    // Spark's SparkShutdownHookManager.install registers the hook that stops the SparkContext with
    // Hadoop's manager at FileSystem.SHUTDOWN_HOOK_PRIORITY + 30; higher priorities run first
    assertTrue(StopFlush.PRIORITY > FileSystem.SHUTDOWN_HOOK_PRIORITY + 30, "priority " + StopFlush.PRIORITY);
    StopFlush f = StopFlush.register(new TrainingMetrics(), new OutputDir(dir.toUri().toString(), new Configuration()),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    assertTrue(ShutdownHookManager.get().hasShutdownHook(f.hook));
    f.close();
    assertFalse(ShutdownHookManager.get().hasShutdownHook(f.hook), "the hook stays after training");
  }
}
