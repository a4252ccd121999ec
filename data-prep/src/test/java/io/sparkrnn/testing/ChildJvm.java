package io.sparkrnn.testing;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Tests only: runs a main class in a child JVM with its own heap, the test class path, Spark's
 * --add-opens (surefire passes them as {@code sparkrnn.test.opens}) and every socket on loopback.
 */
public final class ChildJvm {
  private ChildJvm() {}

  /** The exit code and everything the child printed (stdout and stderr together). */
  public record Result(int code, String output) {}

  /** Runs {@code mainClass args} with {@code -Xmx<heap>}, waiting at most {@code minutes}. */
  public static Result run(String heap, int minutes, String mainClass, String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx" + heap);
    for (String opt : System.getProperty("sparkrnn.test.opens", "").split(" ")) {
      if (!opt.isBlank()) {
        cmd.add(opt);
      }
    }
    cmd.add("-cp");
    cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")).replace(' ',
        File.pathSeparatorChar));
    cmd.add(mainClass);
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(minutes, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new AssertionError("the child JVM (" + mainClass + ") did not finish in " + minutes + " minutes:\n" + out);
    }
    return new Result(p.exitValue(), out);
  }
}
