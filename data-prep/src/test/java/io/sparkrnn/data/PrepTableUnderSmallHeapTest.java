package io.sparkrnn.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.testing.ChildJvm;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
    ChildJvm.Result child = ChildJvm.run("512m", 10, "io.sparkrnn.data.spark.SmallHeapPrep", tmp.toString(), Long.toString(rows));
    String out = child.output();
    assertEquals(0, child.code(), () -> "child failed:\n" + out.substring(Math.max(0, out.length() - 4000)));
    // 2000 sensors x 4500 hours, T = 48, stride 24, K = 1: windows at 0, 24, ..., while s + 49 <= 4500 -> 186 each
    assertTrue(out.contains("sequences " + 2000L * 186), out);
    Matcher heap = Pattern.compile("max heap MB (\\d+)").matcher(out);
    assertTrue(heap.find() && Integer.parseInt(heap.group(1)) <= 512, "ran under the small heap: " + out);
  }
}
