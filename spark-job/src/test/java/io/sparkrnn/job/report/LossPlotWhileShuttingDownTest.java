package io.sparkrnn.job.report;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * docs/cluster.md: a SIGTERM "after [the last step] while the run writes its files (rows, last
 * checkpoint, model, report), waits for them instead ..., so the run that trained keeps its report".
 * The hook does wait, but the report's first file, loss.png, is drawn with ImageIO, whose first use
 * in a JVM registers a shutdown hook of its own (its stream closer): under a shutdown that throws
 * "IllegalStateException: Shutdown in progress", so neither loss.png nor report.md is written (and
 * Main prints only its "stopped:" line). Seen with bin/spark-rnn train and kill -15 as
 * model.safetensors was being written: exit 143, model.safetensors there, no loss.png, no report.md.
 *
 * <p>Here in a child JVM as train has it: the hook waits for a writer thread, which draws the loss
 * plot once the shutdown has begun.
 */
class LossPlotWhileShuttingDownTest {

  /** The child: prints "ready", then on SIGTERM draws the plot while its hook waits, and says how it went. */
  public static final class Child {
    public static void main(String[] args) throws Exception {
      CountDownLatch shuttingDown = new CountDownLatch(1);
      CountDownLatch written = new CountDownLatch(1);
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        shuttingDown.countDown();
        try {
          written.await(10, TimeUnit.SECONDS);   // as StopFlush waits for the run's final files
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }));
      Thread writer = new Thread(() -> {
        try {
          shuttingDown.await();
          byte[] png = new LinePlot("spark-rnn training: lstm 1x8", "step", true)
              .add("training loss", new double[] {1, 2, 3}, new double[] {0.4, 0.2, 0.1}, Color.BLUE).toPng(900, 500);
          System.out.println("loss.png: " + png.length + " bytes");
        } catch (Throwable t) {
          System.out.println("loss.png failed: " + t);
        } finally {
          System.out.flush();
          written.countDown();
        }
      });
      writer.start();
      System.out.println("ready");
      System.out.flush();
      Thread.sleep(600_000);
    }
  }

  @Test
  void theLossPlotIsDrawnWhileTheJvmShutsDownAfterASigterm() throws Exception {
    List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), Child.class.getName());
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    List<String> lines = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch ready = new CountDownLatch(1);
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          lines.add(line);
          if (line.equals("ready")) {
            ready.countDown();
          }
        }
      } catch (IOException ignored) {
        // the stream closes with the process
      }
    });
    reader.start();
    try {
      assertTrue(ready.await(60, TimeUnit.SECONDS), () -> String.join("\n", new ArrayList<>(lines)));
      p.toHandle().destroy();   // SIGTERM
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child did not stop on SIGTERM");
    } finally {
      if (p.isAlive()) {
        p.toHandle().destroyForcibly();
      }
    }
    reader.join(10_000);
    String output = String.join("\n", new ArrayList<>(lines));
    assertTrue(lines.stream().anyMatch(l -> l.startsWith("loss.png: ")), "loss.png is not drawn under a SIGTERM:\n" + output);
  }
}
