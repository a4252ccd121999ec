package io.sparkrnn.cli;

import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * What {@code bench} reports of memory: garbage-collection time, bytes allocated and the process's
 * peak resident set size over an interval, read from the JVM's management beans and Linux's
 * {@code /proc/self/status}.
 *
 * <p>Peak RSS (VmHWM) is a high-water mark of the whole process. {@link #start()} resets it
 * (writing 5 to {@code /proc/self/clear_refs}, Linux ≥ 4.0) so that each bench row reports its own
 * peak; the JVM keeps the heap it has touched, so a row's peak includes what earlier rows left
 * resident. Where the reset or VmHWM is not available (not Linux, or a restricted /proc) the peak
 * is reported as unknown (−1), never as a guess.
 */
final class JvmMemory {
  private static final Path STATUS = Path.of("/proc/self/status");
  private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

  private final long gcMs0;
  private final long allocated0;
  private final long nanos0;
  private final boolean peakReset;

  private JvmMemory(boolean peakReset) {
    this.peakReset = peakReset;
    this.gcMs0 = gcMillis();
    this.allocated0 = allocatedBytes();
    this.nanos0 = System.nanoTime();
  }

  /** Starts an interval; resets the peak RSS where the kernel allows it. */
  static JvmMemory start() {
    boolean reset = false;
    try {
      Files.writeString(CLEAR_REFS, "5");
      reset = true;
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      // no reset: peakRssBytes() reports −1
    }
    return new JvmMemory(reset);
  }

  /** Starts an interval without touching the peak RSS (whose {@link #peakRssBytes()} is then −1). */
  static JvmMemory interval() {
    return new JvmMemory(false);
  }

  /** Milliseconds of garbage collection since {@link #start()}, over all collectors. */
  long gcMs() {
    return gcMillis() - gcMs0;
  }

  /** GC time as a percentage of the wall time since {@link #start()}. */
  double gcPercent() {
    double wallMs = (System.nanoTime() - nanos0) / 1e6;
    return wallMs > 0 ? 100.0 * gcMs() / wallMs : 0;
  }

  /** Bytes allocated on the heap since {@link #start()}, summed over the threads alive now, or −1 where the JVM does not count. */
  long allocatedBytesSinceStart() {
    long now = allocatedBytes();
    return now < 0 || allocated0 < 0 ? -1 : now - allocated0;
  }

  /** The process's peak resident set since {@link #start()}, in bytes, or −1 where it cannot be read. */
  long peakRssBytes() {
    if (!peakReset) {
      return -1;
    }
    try {
      for (String line : Files.readAllLines(STATUS)) {
        if (line.startsWith("VmHWM:")) {
          String[] parts = line.substring(6).trim().split("\\s+");
          return Long.parseLong(parts[0]) * 1024; // "VmHWM:   123456 kB"
        }
      }
    } catch (IOException | NumberFormatException e) {
      // unknown
    }
    return -1;
  }

  private static long gcMillis() {
    long ms = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      ms += Math.max(0, gc.getCollectionTime());
    }
    return ms;
  }

  /**
   * Σ over live threads of the bytes each has allocated (HotSpot's per-thread counters). A thread
   * that ends inside the interval takes its count with it; the engines' pool threads live as long
   * as the JVM, so a kernel row's count is complete.
   */
  private static long allocatedBytes() {
    if (!(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean threads)
        || !threads.isThreadAllocatedMemorySupported() || !threads.isThreadAllocatedMemoryEnabled()) {
      return -1;
    }
    return Arrays.stream(threads.getThreadAllocatedBytes(threads.getAllThreadIds())).filter(b -> b > 0).sum();
  }
}
