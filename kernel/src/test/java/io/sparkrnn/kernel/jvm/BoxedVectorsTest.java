package io.sparkrnn.kernel.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/** The check for a JVM whose C2 left the engine's vectors boxed: its windows, its thresholds, the JIT's part, persistence, and the engine's wiring. */
class BoxedVectorsTest {
  /** A JIT that compiles nothing (every window after the first is judged) and a clock that moves 1 s a judged window, marking after 3 s. */
  private static BoxedVectors quietJit() {
    long[] nanos = {0};
    return new BoxedVectors(() -> 0, () -> nanos[0] += 1_000_000_000L, 3_000_000_000L);
  }

  /** 32 calls of 204,800 values (LSTM H = 64, B = 64, T = 50) at the given bytes a call. */
  private static void window(BoxedVectors b, long bytesPerCall) {
    for (int i = 0; i < BoxedVectors.WINDOW; i++) {
      b.endCall(bytesPerCall, 204_800);
    }
  }

  /** {@code n} windows at the given bytes a call. */
  private static void windows(BoxedVectors b, int n, long bytesPerCall) {
    for (int w = 0; w < n; w++) {
      window(b, bytesPerCall);
    }
  }

  @Test
  void boxedWindowsForTheWholePersistenceMarkTheEngineAndACleanOneClearsIt() {
    BoxedVectors b = quietJit();
    window(b, 7_545_000); // the warm-up's window: left out, however much it allocated
    assertNull(b.note());
    window(b, 0);
    assertNull(b.note());
    windows(b, 3, 7_545_000); // 36.8 bytes a value, as the boxed JVMs measured: boxed since the first of these, 2 s ago
    assertNull(b.note(), "boxed for 2 s only");
    window(b, 7_545_000); // 3 s
    assertEquals(BoxedVectors.NOTE, b.note());
    window(b, 171_000); // a healthy call's results, were they counted: 0.8 bytes a value
    assertNull(b.note(), "the latest judged window's finding");
    windows(b, 3, 7_545_000);
    window(b, 0);
    windows(b, 3, 7_545_000);
    assertNull(b.note(), "a clean window between starts the persistence again");
    window(b, 7_545_000);
    assertEquals(BoxedVectors.NOTE, b.note());
  }

  @Test
  void aClockBelowZeroStillMarks() {
    long[] nanos = {-100_000_000_000L}; // System.nanoTime may be negative
    BoxedVectors b = new BoxedVectors(() -> 0, () -> nanos[0] += 1_000_000_000L, 3_000_000_000L);
    window(b, 0);
    windows(b, 4, 7_545_000);
    assertEquals(BoxedVectors.NOTE, b.note());
  }

  @Test
  void bothThresholdsMustBePassed() {
    BoxedVectors perValue = quietJit();
    window(perValue, 0);
    windows(perValue, 6, 1_600_000); // 7.8 bytes a value, past 64 kB
    assertNull(perValue.note());
    windows(perValue, 4, 1_700_000); // 8.3 bytes a value
    assertEquals(BoxedVectors.NOTE, perValue.note());
    BoxedVectors small = quietJit();
    for (int w = 0; w < 6; w++) {
      for (int i = 0; i < BoxedVectors.WINDOW; i++) {
        small.endCall(60_000, 4_096); // 14.6 bytes a value, but under 64 kB a call
      }
    }
    assertNull(small.note());
  }

  @Test
  void aBufferGrownOnceIsNotBoxing() {
    BoxedVectors b = quietJit();
    windows(b, 2, 0);
    b.endCall(100_000_000, 204_800); // a larger shape arrives and the slices' buffers grow: a boxed window (15 bytes a value)
    for (int i = 1; i < BoxedVectors.WINDOW; i++) {
      b.endCall(0, 204_800);
    }
    windows(b, 5, 0);
    assertNull(b.note());
  }

  @Test
  void aWindowDuringWhichTheJitCompiledIsNotJudged() {
    long[] jitMillis = {500};
    long[] nanos = {0};
    BoxedVectors b = new BoxedVectors(() -> jitMillis[0], () -> nanos[0] += 1_000_000_000L, 0);
    window(b, 7_545_000); // the warm-up's
    jitMillis[0] += 40; // C2 compiles the cells while the second window runs in C1's code, its vectors boxed
    window(b, 7_545_000);
    assertNull(b.note(), "not judged: the JIT was compiling");
    assertEquals(0, b.judged());
    window(b, 7_545_000); // the JIT quiet, and still boxed: the compiled code's
    assertEquals(BoxedVectors.NOTE, b.note());
    assertEquals(1, b.judged());
    jitMillis[0] += 3;
    window(b, 0);
    assertEquals(BoxedVectors.NOTE, b.note(), "a window during which the JIT compiled leaves the latest judged finding");
    window(b, 0);
    assertNull(b.note());
    assertEquals(2, b.judged());
  }

  /** Scalar kernels that allocate 36 bytes a hidden value in every LSTM cell call, as a boxed lstmCell does. */
  static final class AllocatingKernels extends ScalarKernels {
    static volatile float[] sink; // the allocation escapes, so C2 cannot remove it

    @Override
    public void lstmCell(float[] a, int aOff, float[] c, int cp, int cq, float[] tc, int tcOff, float[] h, int hq, int rows, int H) {
      sink = new float[9 * rows * H];
      super.lstmCell(a, aOff, c, cp, cq, tc, tcOff, h, hq, rows, H);
    }
  }

  /**
   * The engine's description after {@code minCalls} calls and, past those, once {@code judged}
   * windows were judged: the JIT decides when (this JVM's, compiling the test's code as it runs),
   * so up to 60 s of calls.
   */
  private static String afterCalls(MathKernels math, int minCalls, int judged) {
    ModelConfig config = new ModelConfig(CellType.LSTM, 1, 1, 16, 1, Mode.SEQ2SEQ, LossType.MSE);
    Params params = Params.initialize(config, 1);
    Batch batch = Batch.random(config, 20, 16, 2); // 5,120 hidden values a call
    long deadline = System.nanoTime() + 60_000_000_000L;
    // this JVM's JIT and clock, marking at the first boxed judged window
    try (JvmEngine engine = new JvmEngine(math, 2, new BoxedVectors(ManagementFactory.getCompilationMXBean()::getTotalCompilationTime,
        System::nanoTime, 0))) {
      for (int i = 0; i < minCalls || engine.boxed.judged() < judged; i++) {
        if (i % 2 == 0) {
          engine.forward(params, batch, null);
        } else {
          engine.lossAndGradient(params, batch, null);
        }
        assertTrue(System.nanoTime() < deadline, "no window of 32 calls without the JIT compiling in 60 s");
      }
      return engine.describe();
    }
  }

  @Test
  void theEngineSaysSoInItsDescription() {
    String boxed = afterCalls(new AllocatingKernels(), 0, 1);
    assertEquals("JVM engine float32 (scalar loops, 2 threads); " + BoxedVectors.NOTE, boxed);
    // the scalar loops use no vectors, so nothing of theirs is ever boxed: a slice's work allocates nothing
    String clean = afterCalls(MathKernels.scalar(), 0, 2);
    assertEquals("JVM engine float32 (scalar loops, 2 threads)", clean);
    assertFalse(afterCalls(new AllocatingKernels(), BoxedVectors.WINDOW, 0).contains("boxed"), "the first window is the warm-up's");
  }
}
