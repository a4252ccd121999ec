package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A table larger than the heap: 9 million rows (sensor string, timestamp, two doubles: about
 * 500 MB as Spark's compact rows, several times that as Java objects) prepped in a JVM with a
 * 512 MB heap, where Spark's execution memory is about 120 MB. It succeeds only if nothing holds
 * the table: the shuffle and the sort spill, and the prep's tasks hold T + K rows per series.
 */
class PrepTableUnderSmallHeapTest {
  @TempDir Path tmp;

  @Test
  void aTableLargerThanTheHeapIsPrepped() throws Exception {
    long rows = 9_000_000;
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx512m");
    for (String opt : System.getProperty("sparkrnn.test.opens", "").split(" ")) {
      if (!opt.isBlank()) {
        cmd.add(opt);
      }
    }
    cmd.add("-cp");
    cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")).replace(' ',
        File.pathSeparatorChar));
    cmd.add("io.sparkrnn.data.spark.SmallHeapPrep");
    cmd.add(tmp.toString());
    cmd.add(Long.toString(rows));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(10, TimeUnit.MINUTES), "the child JVM did not finish");
    assertEquals(0, p.exitValue(), () -> "child failed:\n" + out.substring(Math.max(0, out.length() - 4000)));
    // 2000 sensors x 4500 hours, T = 48, stride 24, K = 1: windows at 0, 24, ..., while s + 49 <= 4500 -> 186 each
    assertTrue(out.contains("sequences " + 2000L * 186), out);
    java.util.regex.Matcher heap = java.util.regex.Pattern.compile("max heap MB (\\d+)").matcher(out);
    assertTrue(heap.find() && Integer.parseInt(heap.group(1)) <= 512, "ran under the small heap: " + out);
  }
}
