package io.sparkrnn.kernel.jvm;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Watches what the JVM engine's slices allocate, to tell a JVM whose C2 left the engine's vectors
 * boxed. The slices' work allocates nothing once their buffers have grown to the shape; in about
 * one JVM in 6–10 C2 compiled {@code VectorKernels.lstmCell} with two vector stores left to Java
 * code, and every vector that reached them became an object: 7.5 MB a call at LSTM H = 64,
 * B = 64, T = 50 (36 bytes a B·T·H value), and the call 2–3× slower. The cause was found and
 * removed ({@code VectorKernels.primeOperatorProfile}); this check stays for whatever else makes
 * C2 give up on a kernel's vectors (docs/PERFORMANCE.md, "Boxed vectors in lstmCell"). In
 * synchronous training every step would wait for such an executor.
 *
 * <p>Calls are taken in windows of {@link #WINDOW}. A window is judged only where the JIT compiled
 * nothing in this JVM while it ran (HotSpot's total compilation time did not move), and never the
 * first: until the kernels are compiled the interpreter and C1 allocate every vector, and under
 * load that lasts several windows (a busy host gave one warning in 8 bench JVMs before this rule,
 * in a JVM that then ran unboxed). A judged window whose calls allocated, on average, more than
 * {@link #BYTES_PER_VALUE} bytes for each of their L·B·T·H hidden values and more than
 * {@link #MIN_BYTES} a call marks the engine boxed, the next judged window below that clears it:
 * the mark is the latest judged window's. The first mark is logged as a warning.
 */
final class BoxedVectors {
  private static final Logger LOG = Logger.getLogger(BoxedVectors.class.getName());
  static final int WINDOW = 32;
  static final double BYTES_PER_VALUE = 8;
  static final long MIN_BYTES = 64 * 1024;
  /** Calls of fewer hidden values are not watched (boxed, they would allocate less than {@link #MIN_BYTES}). */
  static final long MIN_VALUES = 4096;
  /** HotSpot's per-thread allocation counter, or null where this JVM has none (then nothing is checked). */
  private static final com.sun.management.ThreadMXBean THREADS = threads();

  private final AtomicLong inCall = new AtomicLong();
  /** Milliseconds this JVM's JIT has spent compiling so far (constant where the JVM does not say). */
  private final LongSupplier jitMillis;
  private long jitAtWindowStart;
  private long calls;
  private long judged;
  private long windowBytes;
  private double windowValues;
  private volatile String note;
  private boolean warned;

  BoxedVectors() {
    this(jitMillis());
  }

  /** With the JIT's clock given (tests). */
  BoxedVectors(LongSupplier jitMillis) {
    this.jitMillis = jitMillis;
    this.jitAtWindowStart = jitMillis.getAsLong();
  }

  private static LongSupplier jitMillis() {
    try {
      CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
      if (jit != null && jit.isCompilationTimeMonitoringSupported()) {
        return jit::getTotalCompilationTime;
      }
    } catch (RuntimeException | LinkageError e) {
      // no clock: every window after the first is judged
    }
    return () -> 0;
  }

  private static com.sun.management.ThreadMXBean threads() {
    try {
      if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t && t.isThreadAllocatedMemorySupported()
          && t.isThreadAllocatedMemoryEnabled()) {
        return t;
      }
    } catch (RuntimeException | LinkageError e) {
      // no counter: the check is off
    }
    return null;
  }

  /** This thread's allocated bytes so far, or 0 where the JVM does not count them. */
  static long allocatedHere() {
    return THREADS == null ? 0 : THREADS.getCurrentThreadAllocatedBytes();
  }

  /** Starts a call: forgets what the slices of a call that failed part way counted. */
  void beginCall() {
    inCall.set(0);
  }

  /** Adds what a slice's work allocated on its thread (any thread, during a call). */
  void slice(long bytes) {
    inCall.addAndGet(bytes);
  }

  /** Ends a call that computed {@code values} hidden values (L·B·T·H); on the caller's thread, after every slice. */
  void endCall(long values) {
    if (THREADS != null) {
      endCall(inCall.getAndSet(0), values);
    }
  }

  /** {@link #endCall(long)} with the call's bytes given (tests). */
  synchronized void endCall(long bytes, long values) {
    calls++;
    windowBytes += bytes;
    windowValues += values;
    if (calls % WINDOW != 0) {
      return;
    }
    long jit = jitMillis.getAsLong();
    boolean jitQuiet = jit == jitAtWindowStart;
    jitAtWindowStart = jit;
    if (calls > WINDOW && jitQuiet) { // the first window is the warm-up's
      judged++;
      double perCall = windowBytes / (double) WINDOW;
      boolean boxed = perCall > MIN_BYTES && windowBytes > BYTES_PER_VALUE * windowValues;
      note = boxed ? String.format(Locale.ROOT, "C2 left vectors boxed in this JVM: %.0f kB allocated a call (%.0f bytes a hidden value), the"
          + " engine 2-3x slower than its usual; a new JVM (executor) compiles anew", perCall / 1e3, windowBytes / windowValues) : null;
      if (boxed && !warned) {
        warned = true;
        LOG.log(Level.WARNING, "JVM engine: " + note + " (docs/PERFORMANCE.md, \"Boxed vectors in lstmCell\")");
      }
    }
    windowBytes = 0;
    windowValues = 0;
  }

  /** The latest judged window's finding, or null where the engine's vectors were not boxed (or no window was judged yet). */
  String note() {
    return note;
  }

  /** How many windows were judged (tests). */
  synchronized long judged() {
    return judged;
  }
}
