package io.sparkrnn.job.cluster;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A JVM the cluster tests started: its merged stdout and stderr go to a log file and stay
 * searchable line by line. Every instance is registered, and a shutdown hook kills those still
 * running (with their child processes: a Worker's executors), so a failed or interrupted test
 * leaves no process behind.
 *
 * <p>start → awaitLine* → (kill9 | awaitExit) → close. Thread-safe.
 */
final class ManagedProcess implements AutoCloseable {
  private static final Set<ManagedProcess> LIVE = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(ManagedProcess::close), "cluster-test-cleanup"));
  }

  private final String name;
  private final Process process;
  private final Path log;
  private final List<String> lines = new ArrayList<>(); // guarded by this
  private final Thread pump;

  private ManagedProcess(String name, Process process, Path log) {
    this.name = name;
    this.process = process;
    this.log = log;
    this.pump = new Thread(this::pumpOutput, "output of " + name);
    this.pump.setDaemon(true);
    this.pump.start();
  }

  static ManagedProcess start(String name, List<String> command, Map<String, String> env, Path log) {
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().putAll(env);
    try {
      Files.createDirectories(log.getParent());
      ManagedProcess p = new ManagedProcess(name, pb.start(), log);
      LIVE.add(p);
      return p;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + name, e);
    }
  }

  private void pumpOutput() {
    try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        PrintWriter out = new PrintWriter(Files.newBufferedWriter(log, StandardCharsets.UTF_8), true)) {
      String line;
      while ((line = in.readLine()) != null) {
        out.println(line);
        synchronized (this) {
          lines.add(line);
          notifyAll();
        }
      }
    } catch (IOException e) {
      // the process died and closed its end; what was read is kept
    } finally {
      synchronized (this) {
        notifyAll();
      }
    }
  }

  long pid() {
    return process.pid();
  }

  Process process() {
    return process;
  }

  /** Waits for a line matching {@code pattern} and returns its match; fails with the log's tail if the process ends first or time runs out. */
  Matcher awaitLine(Pattern pattern, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    int seen = 0;
    synchronized (this) {
      while (true) {
        for (; seen < lines.size(); seen++) {
          Matcher m = pattern.matcher(lines.get(seen));
          if (m.find()) {
            return m;
          }
        }
        long left = deadline - System.nanoTime();
        if (left <= 0 || (!process.isAlive() && !pump.isAlive())) {
          throw new AssertionError(name + ": no line matching /" + pattern + "/ "
              + (process.isAlive() ? "within " + timeout : "before it exited with " + process.exitValue()) + "\n" + tail(40));
        }
        try {
          wait(Math.min(TimeUnit.NANOSECONDS.toMillis(left) + 1, 500));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new AssertionError("interrupted", e);
        }
      }
    }
  }

  /** Waits for the process to exit and its output to be read; returns the exit code. */
  int awaitExit(Duration timeout) {
    try {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError(name + ": still running after " + timeout + "\n" + tail(40));
      }
      pump.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
    LIVE.remove(this);
    return process.exitValue();
  }

  /** SIGKILL (Process.destroyForcibly is kill -9 on Linux); waits until it is gone. */
  void kill9() {
    process.destroyForcibly();
    awaitExit(Duration.ofSeconds(30));
  }

  synchronized List<String> lines() {
    return List.copyOf(lines);
  }

  synchronized String output() {
    return String.join("\n", lines);
  }

  synchronized String tail(int n) {
    return "--- last lines of " + name + " (" + log + ") ---\n" + String.join("\n", lines.subList(Math.max(0, lines.size() - n), lines.size()));
  }

  /** Kills the process and every process it started, by process id. Idempotent. */
  @Override
  public void close() {
    LIVE.remove(this);
    List<ProcessHandle> children = process.descendants().toList();
    process.destroyForcibly();
    children.forEach(ProcessHandle::destroyForcibly);
    try {
      process.waitFor(10, TimeUnit.SECONDS);
      for (ProcessHandle c : children) {
        c.onExit().get(10, TimeUnit.SECONDS);
      }
    } catch (Exception e) {
      // best effort at cleanup
    }
  }
}
