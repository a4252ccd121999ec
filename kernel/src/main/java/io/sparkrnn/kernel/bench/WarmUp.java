package io.sparkrnn.kernel.bench;

import io.sparkrnn.kernel.jvm.MathKernels;
import java.util.function.LongSupplier;

/**
 * When untimed calls (a bench row's, {@link CpuTimeBench}'s, {@link HostCeiling}'s) may stop: after at least {@code minCalls} calls and
 * {@code minSeconds}, and then only once the JIT has compiled nothing for {@code quietSeconds}
 * (the JVM's total compilation time, {@link MathKernels#jitCompileMillis}, has not moved), or at
 * {@code maxSeconds} at the latest. A fixed warm-up is not enough on a loaded machine: C2's
 * compiler threads get little CPU, and rows timed while the Vector API code still ran
 * interpreted came out 15–20× slow, allocating tens of MB per step (seen: LSTM H=64 after 3 s
 * at load 4–5, 45 ms/step against 2.3 ms after 10 s).
 */
public final class WarmUp {
  private final int minCalls;
  private final long minNanos;
  private final long maxNanos;
  private final long quietNanos;
  private final LongSupplier clock;
  /** The JIT's total compilation time in ms, or null where the JVM does not report it. */
  private final LongSupplier compileMillis;
  private final long start;
  private long lastCompileMillis;
  private long quietSince;

  WarmUp(int minCalls, double minSeconds, double maxSeconds, double quietSeconds, LongSupplier clock, LongSupplier compileMillis) {
    this.minCalls = minCalls;
    this.minNanos = (long) (minSeconds * 1e9);
    this.maxNanos = (long) (Math.max(minSeconds, maxSeconds) * 1e9);
    this.quietNanos = (long) (quietSeconds * 1e9);
    this.clock = clock;
    this.compileMillis = compileMillis;
    this.start = clock.getAsLong();
    this.quietSince = start;
    this.lastCompileMillis = compileMillis == null ? 0 : compileMillis.getAsLong();
  }

  /**
   * This JVM's clock and JIT, quiet for 1 s, at most 30 s past {@code minSeconds}; without a waiting
   * time for the JIT where {@code minSeconds} is 0.
   */
  public static WarmUp of(int minCalls, double minSeconds) {
    return minSeconds == 0 ? new WarmUp(minCalls, 0, 0, 1.0, System::nanoTime, null) : of(minCalls, minSeconds, minSeconds + 30, 1.0);
  }

  /** This JVM's clock and JIT; without a waiting time for the JIT where {@code quietSeconds} is 0 or the JVM does not report its compilation time. */
  public static WarmUp of(int minCalls, double minSeconds, double maxSeconds, double quietSeconds) {
    return new WarmUp(minCalls, minSeconds, maxSeconds, quietSeconds, System::nanoTime,
        quietSeconds > 0 ? MathKernels.jitCompileMillis() : null);
  }

  /** Whether to make another untimed call, {@code calls} made so far. */
  public boolean more(int calls) {
    long now = clock.getAsLong();
    if (compileMillis != null) {
      long c = compileMillis.getAsLong();
      if (c != lastCompileMillis) {
        lastCompileMillis = c;
        quietSince = now;
      }
    }
    return calls < minCalls || now - start < minNanos
        || (compileMillis != null && now - quietSince < quietNanos && now - start < maxNanos);
  }

  /** Seconds since the start. */
  public double seconds() {
    return (clock.getAsLong() - start) / 1e9;
  }

  /** Whether it stopped at {@code maxSeconds} with the JIT still compiling. */
  public boolean cutShort() {
    return compileMillis != null && clock.getAsLong() - quietSince < quietNanos;
  }
}
