package io.sparkrnn.kernel.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The warm-up's stopping rule on a fake clock and a fake JIT counter. */
class WarmUpTest {
  private long nanos;
  private long compileMillis;

  private WarmUp warmUp(double minSeconds, double maxSeconds) {
    return new WarmUp(3, minSeconds, maxSeconds, 1.0, () -> nanos, () -> compileMillis);
  }

  /** Calls until stopped, each taking {@code callSeconds}, the JIT compiling during the first {@code compilingSeconds}. */
  private int run(WarmUp w, double callSeconds, double compilingSeconds) {
    int calls = 0;
    while (w.more(calls)) {
      nanos += (long) (callSeconds * 1e9);
      if (nanos < compilingSeconds * 1e9) {
        compileMillis += 7;
      }
      calls++;
    }
    return calls;
  }

  @Test
  void stopsAfterTheMinimumWhenTheJitIsQuiet() {
    WarmUp w = warmUp(3, 33);
    int calls = run(w, 0.1, 0);
    assertEquals(30, calls, "3 s of 0.1 s calls");
    assertFalse(w.cutShort());
  }

  @Test
  void goesOnUntilTheJitHasBeenQuietForOneSecond() {
    WarmUp w = warmUp(3, 33);
    run(w, 0.1, 8);
    // compiled during the call that ended at 8.0 s: quiet from then, stops once 1 s has passed with no compilation
    assertEquals(9.0, w.seconds(), 0.11);
    assertFalse(w.cutShort());
  }

  @Test
  void stopsAtTheMaximumWithTheJitStillCompilingAndSaysSo() {
    WarmUp w = warmUp(3, 10);
    run(w, 0.1, 1000);
    assertEquals(10.0, w.seconds(), 0.11);
    assertTrue(w.cutShort());
  }

  @Test
  void theMinimumCallsHoldEvenWhenTheTimeIsUp() {
    WarmUp w = warmUp(3, 33);
    assertEquals(3, run(w, 5.0, 0), "three calls of 5 s: the minimum count, then 3 s have long passed");
  }

  @Test
  void withoutAJitCounterOnlyTheMinimumsCount() {
    WarmUp w = new WarmUp(2, 1, 31, 1.0, () -> nanos, null);
    assertEquals(10, run(w, 0.1, 1000));
    assertFalse(w.cutShort());
  }

  @Test
  void noMinimumStillWaitsForAQuietJitAsHostCeilingAsks() {
    // HostCeiling's later measurements: no minimum time or calls, 0.1 s of quiet; the JIT compiles during the first 0.25 s
    WarmUp w = new WarmUp(0, 0, 5, 0.1, () -> nanos, () -> compileMillis);
    run(w, 0.01, 0.25);
    assertEquals(0.35, w.seconds(), 0.011, "quiet from the call that ended at 0.25 s, then 0.1 s more");
    assertFalse(w.cutShort());
  }

  @Test
  void theFactoriesWaitForTheJitOnlyWhereAsked() {
    assertFalse(WarmUp.of(0, 0).more(0), "bench's reference rows: no minimum, no waiting");
    assertFalse(WarmUp.of(0, 0, 5, 0).more(0), "quiet 0: no waiting for the JIT");
    assertTrue(WarmUp.of(1, 0, 5, 0).more(0), "one call at least");
    assertFalse(WarmUp.of(1, 0, 5, 0).more(1));
  }
}
