package io.sparkrnn.kernel.jvm;

import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Watches what the JVM engine's slices allocate, to tell a JVM whose C2 left the engine's vectors
 * boxed. The slices' work allocates nothing once their buffers have grown to the shape; in about
 * one JVM in 6–10 C2 compiled {@code VectorKernels.lstmCell} with two vector stores left to Java
 * code, and every vector that reached them became an object: 7.5 MB a call at LSTM H = 64,
 * B = 64, T = 50 (37 bytes a B·T·H value), and the call 2–3× slower. The cause was found and
 * removed ({@code VectorKernels.primeOperatorProfile}), as was a rarer one in the RNN step
 * ({@link VectorInlining}); this check stays for whatever else makes C2 give up on a kernel's
 * vectors (docs/PERFORMANCE.md, "Boxed vectors in lstmCell"). In synchronous training every step
 * would wait for such an executor.
 *
 * <p>Calls are taken in windows of {@link #WINDOW}. A window is judged only where HotSpot's total
 * compilation time did not move while it ran, and never the first: until the kernels are compiled
 * the interpreter and C1 allocate every vector. A judged window is boxed where its calls allocated,
 * on average, more than {@link #BYTES_PER_VALUE} bytes for each of their L·B·T·H hidden values and
 * more than {@link #MIN_BYTES} a call. Neither rule alone tells warm-up from compiled code: the
 * compilation time moves only when a compilation ends, so windows inside a long one look quiet
 * (small calls, LSTM H = 16 at 0.2 ms, allocated 55 bytes a value for dozens of windows while C2
 * worked, a review found), and a busy host's C2 queue kept the cells uncompiled through the second
 * window of LSTM H = 64 calls. Compiled code that boxes does so in every call from then on, so the
 * engine is marked only once its judged windows have been boxed, none clean between, for
 * {@link #PERSIST_NANOS}; a clean judged window clears the mark. One warning a JVM, with the
 * figures; the mark, without figures (so that a report that collects the devices of every step
 * holds one line), is appended to the engine's description.
 */
final class BoxedVectors {
  private static final Logger LOG = Logger.getLogger(BoxedVectors.class.getName());
  static final int WINDOW = 32;
  static final double BYTES_PER_VALUE = 8;
  static final long MIN_BYTES = 64 * 1024;
  /** Calls of fewer hidden values are not watched (boxed, they would allocate less than {@link #MIN_BYTES}). */
  static final long MIN_VALUES = 4096;
  /** How long judged windows must have been boxed, none clean between, before the engine is marked. */
  static final long PERSIST_NANOS = TimeUnit.SECONDS.toNanos(10);
  /** What {@link #note} says of a marked engine. */
  static final String NOTE = "C2 left vectors boxed in this JVM, 2-3x slower (its log has the figures)";
  /** HotSpot's per-thread allocation counter, or null where this JVM has none (then nothing is checked). */
  private static final com.sun.management.ThreadMXBean THREADS = threads();
  /** Boxing is the JVM's, not one engine's: one warning a JVM, whichever engine saw it first. */
  private static final AtomicBoolean WARNED = new AtomicBoolean();

  private final AtomicLong inCall = new AtomicLong();
  /** Milliseconds this JVM's JIT has spent compiling so far (constant where the JVM does not say). */
  private final LongSupplier jitMillis;
  private final LongSupplier nanoTime;
  private final long persistNanos;
  private long jitAtWindowStart;
  private long calls;
  private long windowBytes;
  private double windowValues;
  private long judged;
  /** Whether the latest judged window was boxed, and when that run of boxed judged windows began (the end of its first). */
  private boolean boxedRun;
  private long boxedSince;
  private volatile String note;

  /** With this JVM's JIT and clock, marking after {@link #PERSIST_NANOS}. */
  BoxedVectors() {
    this(jitMillis(), System::nanoTime, PERSIST_NANOS);
  }

  /** With the JIT's compilation time (ms), the clock (ns) and the persistence given (tests). */
  BoxedVectors(LongSupplier jitMillis, LongSupplier nanoTime, long persistNanos) {
    this.jitMillis = jitMillis;
    this.nanoTime = nanoTime;
    this.persistNanos = persistNanos;
    this.jitAtWindowStart = jitMillis.getAsLong();
  }

  private static LongSupplier jitMillis() {
    LongSupplier jit = MathKernels.jitCompileMillis();
    return jit != null ? jit : () -> 0; // no compilation time: every window after the first is judged, the persistence still applies
  }

  private static com.sun.management.ThreadMXBean threads() {
    try {
      if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t && t.isThreadAllocatedMemorySupported()
          && t.isThreadAllocatedMemoryEnabled()) {
        return t;
      }
    } catch (RuntimeException | LinkageError e) {
      // no counter: the check is off (below)
    }
    LOG.fine("JVM engine: this JVM does not count each thread's allocation; boxed vectors are not watched");
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
      long now = nanoTime.getAsLong();
      if (!boxed) {
        boxedRun = false;
        note = null;
      } else if (!boxedRun) {
        boxedRun = true;
        boxedSince = now; // System.nanoTime may be negative: the run is the flag's, not a sign's
      }
      if (boxed && now - boxedSince >= persistNanos && note == null) {
        note = NOTE;
        if (WARNED.compareAndSet(false, true)) {
          LOG.log(Level.WARNING, String.format(Locale.ROOT, "JVM engine: C2 left vectors boxed in this JVM: %.0f kB allocated a call"
              + " (%.1f bytes a hidden value) for %.0f s of calls, the engine 2-3x slower than its usual; a new JVM (executor)"
              + " compiles anew (docs/PERFORMANCE.md, \"Boxed vectors in lstmCell\" and \"… in the RNN step\"); the compiler directive"
              + " that inlines the vector helpers: %s", perCall / 1e3, windowBytes / windowValues, (now - boxedSince) / 1e9,
              Objects.requireNonNullElse(VectorInlining.status(), "not tried (the vector kernels not loaded)")));
        }
      }
    }
    windowBytes = 0;
    windowValues = 0;
  }

  /** {@link #NOTE} where the engine is marked, or null. */
  String note() {
    return note;
  }

  /** How many windows were judged (tests). */
  synchronized long judged() {
    return judged;
  }
}
