package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's examples at a reduced size: each must beat its trivial baseline by a stated margin. */
class ExamplesTest {

  /** Runs the CLI in this JVM and returns what it printed to stdout; fails on a non-zero exit. */
  static String run(String... args) {
    PrintStream saved = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    try (PrintStream capture = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
      System.setOut(capture);
      int code = Main.run(args);
      capture.flush();
      String out = buf.toString(StandardCharsets.UTF_8);
      assertEquals(0, code, "exit code of " + String.join(" ", args) + "; output:\n" + out);
      return out;
    } finally {
      System.setOut(saved);
    }
  }

  static double lastNumber(String output, String prefix) {
    String[] lines = output.strip().split("\n");
    String last = lines[lines.length - 1];
    assertTrue(last.startsWith(prefix), "last line starts with '" + prefix + "': " + last);
    return Double.parseDouble(last.substring(prefix.length()).trim());
  }

  @Test
  void quickstartGeneratesClosedLoopFarBetterThanPredictingZero(@TempDir Path dir) throws Exception {
    Path out = dir.resolve("qs");
    String printed = run("quickstart", "--out", out.toString(), "--train-steps", "120", "--generate", "100", "--master", "local[2]");
    double mse = lastNumber(printed, "closed-loop MSE:");
    // Predicting 0 scores the signal power 0.5; a reduced run (120 steps) must be 5× better.
    assertTrue(mse < 0.1, "closed-loop MSE " + mse);
    assertTrue(Files.size(out.resolve("quickstart.png")) > 1000, "plot written");
    assertTrue(Files.exists(out.resolve("model").resolve("model.safetensors")));
    // a rerun replaces its own directory
    run("quickstart", "--out", out.toString(), "--train-steps", "2", "--generate", "5", "--master", "local[1]");
  }

  @Test
  void quickstartRefusesToDeleteADirectoryItDidNotMake(@TempDir Path dir) throws Exception {
    Path mine = Files.createDirectories(dir.resolve("precious"));
    Files.writeString(mine.resolve("keep.txt"), "data");
    assertEquals(2, Main.run("quickstart", "--out", mine.toString()));
    assertTrue(Files.exists(mine.resolve("keep.txt")));
  }
}
