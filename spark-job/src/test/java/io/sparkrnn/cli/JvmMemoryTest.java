package io.sparkrnn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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

  /** The high-water mark only grows between resets, so VmHWM read just before and just after brackets the method's. */
  @Test
  void peakRssIsVmHwmInBytesOfOneKibEachKb() throws IOException {
    assumeTrue(Files.isReadable(Path.of("/proc/self/status")), "Linux only");
    JvmMemory m = JvmMemory.start();
    long before = vmHwmKb();
    long peak = m.peakRssBytes();
    long after = vmHwmKb();
    assumeTrue(peak >= 0, "the kernel refused the reset (clear_refs): the peak is reported unknown");
    assertTrue(before * 1024 <= peak && peak <= after * 1024, "VmHWM " + before + ".." + after + " kB, peak " + peak + " bytes");
  }

  @Test
  void anIntervalWithoutAResetReportsThePeakAsUnknown() {
    assertEquals(-1, JvmMemory.interval().peakRssBytes());
  }
}
