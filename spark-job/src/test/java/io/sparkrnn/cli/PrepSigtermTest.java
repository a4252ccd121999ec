package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A SIGTERM to a local prep (no --master: no Spark) while it writes shards. prep table on Spark
 * stops and removes what it wrote (exit 143, no directory left), as data-format.md says a failed
 * prep does. prep sine does not notice the signal: Main's hook prints "stopped: ... while prep
 * ran" and waits 10 s, the prep goes on writing meanwhile, and then either finishes ("wrote ...",
 * a complete dataset, still exit 143; with --overwrite the old dataset is replaced after "stopped")
 * or is halted mid-write, leaving shards and _temporary/ as a kill -9 does. Here the prep is small
 * enough to finish within the 10 s: "stopped" is followed by "wrote".
 */
class PrepSigtermTest {
  @TempDir Path tmp;

  @Test
  void aSigtermedLocalPrepStopsAndLeavesNoDatasetBehind() throws Exception {
    Path out = tmp.resolve("big");
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
        .filter(a -> !a.startsWith("-javaagent") && !a.startsWith("-agentlib")).toList());
    command.add("-Dlog4j2.configurationFile=" + System.getProperty("log4j2.configurationFile"));
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(),
        "prep", "sine", "--out", out.toString(), "--sequences", "300000", "--steps", "20", "--batch", "64"));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    List<String> lines = Collections.synchronizedList(new ArrayList<>());
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          lines.add(line);
        }
      } catch (IOException ignored) {
        // the stream closes with the process
      }
    });
    reader.start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (shards(out) < 20 && p.isAlive() && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertTrue(p.isAlive(), () -> "prep ended before the signal:\n" + String.join("\n", new ArrayList<>(lines)));
      p.toHandle().destroy();   // SIGTERM
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "prep did not stop on SIGTERM");
    } finally {
      if (p.isAlive()) {
        p.toHandle().destroyForcibly();
      }
    }
    reader.join(10_000);
    List<String> all = new ArrayList<>(lines);
    String output = String.join("\n", all);
    assertEquals(143, p.exitValue(), output);
    assertTrue(all.stream().anyMatch(l -> l.startsWith("stopped: the JVM is shutting down")), output);
    assertFalse(all.stream().anyMatch(l -> l.startsWith("wrote ")), "prep said it stopped, then wrote the dataset:\n" + output);
    assertFalse(Files.exists(out), "a stopped prep left " + out + " (" + shards(out) + " shards):\n" + output);
  }

  private static long shards(Path dir) {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(f -> f.getFileName().toString().startsWith("shard-")).count();
    } catch (IOException e) {
      return 0;
    }
  }
}
