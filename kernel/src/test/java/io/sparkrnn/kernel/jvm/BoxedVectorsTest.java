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
import org.junit.jupiter.api.Test;

/** The check for a JVM whose C2 left the engine's vectors boxed: its windows, its thresholds, and the engine's wiring. */
class BoxedVectorsTest {
  /** 32 calls of 204,800 values (LSTM H = 64, B = 64, T = 50) at the given bytes a call. */
  private static void window(BoxedVectors b, long bytesPerCall) {
    for (int i = 0; i < BoxedVectors.WINDOW; i++) {
      b.endCall(bytesPerCall, 204_800);
    }
  }

  @Test
  void aWindowPastBothThresholdsMarksTheEngineAndTheNextCleanOneClearsIt() {
    BoxedVectors b = new BoxedVectors();
    window(b, 7_545_000); // the warm-up's window: left out, however much it allocated
    assertNull(b.note());
    window(b, 0);
    assertNull(b.note());
    window(b, 7_545_000); // 36.8 bytes a value, as the boxed JVMs measured
    assertEquals("C2 left vectors boxed in this JVM: 7545 kB allocated a call (37 bytes a hidden value), the engine 2-3x slower than"
        + " its usual; a new JVM (executor) compiles anew", b.note());
    window(b, 171_000); // a healthy call's results, were they counted: 0.8 bytes a value
    assertNull(b.note(), "the latest window's finding");
  }

  @Test
  void bothThresholdsMustBePassed() {
    BoxedVectors perValue = new BoxedVectors();
    window(perValue, 0);
    window(perValue, 1_600_000); // 7.8 bytes a value, past 64 kB: a buffer grown once, say
    assertNull(perValue.note());
    window(perValue, 1_700_000); // 8.3 bytes a value
    assertTrue(perValue.note() != null);
    BoxedVectors small = new BoxedVectors();
    for (int w = 0; w < 2; w++) {
      for (int i = 0; i < BoxedVectors.WINDOW; i++) {
        small.endCall(60_000, 4_096); // 14.6 bytes a value, but under 64 kB a call
      }
    }
    assertNull(small.note());
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

  private static String afterCalls(MathKernels math, int calls) {
    ModelConfig config = new ModelConfig(CellType.LSTM, 1, 1, 16, 1, Mode.SEQ2SEQ, LossType.MSE);
    Params params = Params.initialize(config, 1);
    Batch batch = Batch.random(config, 20, 16, 2); // 5,120 hidden values a call
    try (JvmEngine engine = new JvmEngine(math, 2)) {
      for (int i = 0; i < calls; i++) {
        if (i % 2 == 0) {
          engine.forward(params, batch, null);
        } else {
          engine.lossAndGradient(params, batch, null);
        }
      }
      return engine.describe();
    }
  }

  @Test
  void theEngineSaysSoInItsDescription() {
    String boxed = afterCalls(new AllocatingKernels(), 2 * BoxedVectors.WINDOW);
    assertTrue(boxed.startsWith("JVM engine float32 (scalar loops, 2 threads); C2 left vectors boxed in this JVM: "), boxed);
    // the scalar loops use no vectors, so nothing of theirs is ever boxed: a slice's work allocates nothing
    String clean = afterCalls(MathKernels.scalar(), 2 * BoxedVectors.WINDOW);
    assertEquals("JVM engine float32 (scalar loops, 2 threads)", clean);
    assertFalse(afterCalls(new AllocatingKernels(), BoxedVectors.WINDOW).contains("boxed"), "the first window is the warm-up's");
  }
}
