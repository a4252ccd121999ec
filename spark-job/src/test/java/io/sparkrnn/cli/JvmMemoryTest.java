package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** JvmMemory's peak RSS is Linux's VmHWM (proc(5): "Peak resident set size", in kB), in bytes; −1 when not reset. */
class JvmMemoryTest {
  /** VmHWM in kB from /proc/self/status, read here as proc(5) documents it. */
  static long vmHwmKb() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmHWM:")) {
        String[] parts = line.substring("VmHWM:".length()).trim().split("\\s+");
        assertEquals("kB", parts[1], line);
        return Long.parseLong(parts[0]);
      }
    }
    throw new AssertionError("no VmHWM line in /proc/self/status");
  }

  /** Whether this process may reset its peak RSS: writing 5 to /proc/self/clear_refs (proc(5)) succeeds. */
  static boolean clearRefsWritable() {
    try {
      Files.writeString(Path.of("/proc/self/clear_refs"), "5");
      return true;
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      return false;
    }
  }

  /** The high-water mark only grows between resets, so VmHWM read just before and just after brackets the method's. */
  @Test
  void peakRssIsVmHwmInBytesOfOneKibEachKb() throws IOException {
    assumeTrue(Files.isReadable(Path.of("/proc/self/status")), "Linux only");
    JvmMemory m = JvmMemory.start();
    long before = vmHwmKb();
    long peak = m.peakRssBytes();
    long after = vmHwmKb();
    if (peak < 0) {
      // the kernel refused the reset (clear_refs): the peak is unknown, rightly only where the write fails here too
      assertFalse(clearRefsWritable(), "clear_refs takes the reset, yet the peak is reported unknown");
      return;
    }
    assertTrue(before * 1024 <= peak && peak <= after * 1024, "VmHWM " + before + ".." + after + " kB, peak " + peak + " bytes");
  }

  @Test
  void anIntervalWithoutAResetReportsThePeakAsUnknown() {
    assertEquals(-1, JvmMemory.interval().peakRssBytes());
  }

  /**
   * start()'s javadoc: the peak is known exactly where the kernel takes the reset (writing 5 to
   * /proc/self/clear_refs, proc(5)), and −1 only where it does not; the test tries the same write
   * itself to know which case this machine is.
   */
  @Test
  void thePeakIsKnownWhereverTheResetIsAllowed() {
    boolean resettable = clearRefsWritable() && Files.isReadable(Path.of("/proc/self/status"));
    long peak = JvmMemory.start().peakRssBytes();
    assertEquals(resettable, peak > 0, "clear_refs writable: " + resettable + ", peak " + peak);
  }

  /**
   * Bytes allocated over the interval, not since the JVM started: a 16 MiB array made inside it is
   * counted, and the count is at most what all threads allocated from just before the interval to
   * just after it (this thread's own count before it is left out).
   */
  @Test
  void allocatedBytesAreThoseOfTheIntervalOnly() {
    com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long mine0 = threads.getCurrentThreadAllocatedBytes();
    JvmMemory m = JvmMemory.interval();
    byte[] big = new byte[16 << 20];
    long since = m.allocatedBytesSinceStart();
    long all = Arrays.stream(threads.getThreadAllocatedBytes(threads.getAllThreadIds())).filter(b -> b > 0).sum();
    assertTrue(since >= big.length, "the 16 MiB array: " + since);
    assertTrue(since <= all - mine0, since + " > " + (all - mine0) + ": counted from before the interval");
  }
}
