package io.sparkrnn.kernel.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.aparapi.AparapiEngine;
import io.sparkrnn.kernel.aparapi.AparapiEngineTest;
import io.sparkrnn.kernel.aparapi.DeviceFallbackException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.BpttResult;
import io.sparkrnn.kernel.engine.ForwardResult;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code --device auto} for the callers that learn their shape at the first call: that call is
 * timed on both engines and the faster kept. The engines here are stand-ins whose speed is set by
 * a sleep (so the expected pick does not depend on this machine), and once the OpenCL kernels on
 * PoCL against the JVM engine.
 */
class MeasuredEngineTest {
  private static final ModelConfig CONFIG = new ModelConfig(CellType.LSTM, 1, 2, 8, 1, Mode.SEQ2SEQ, LossType.MSE);
  private static final Params PARAMS = Params.initialize(CONFIG, 3);
  private static final Batch BATCH = Batch.random(CONFIG, 6, 4, 5);

  @BeforeEach
  void forget() {
    AutoDevice.clearCache();
    // the JIT's first calls of this shape, out of every timing: the stand-in timed first would pay them and
    // may lose a pick it should win by its sleep alone, as one did on a loaded 2-core host
    try (JvmEngine e = new JvmEngine(1)) {
      e.forward(PARAMS, BATCH, null);
      e.lossAndGradient(PARAMS, BATCH, null);
    }
  }

  /** The JVM engine's results, after sleepMillis per call, or a failure; counts calls and closes. */
  static final class StandIn implements BpttEngine {
    final JvmEngine inner = new JvmEngine(1);
    final long sleepMillis;
    /** Thrown by every call from now on, where not null (a test may set it after the pick). */
    RuntimeException failure;
    int calls;
    boolean closed;

    StandIn(long sleepMillis, RuntimeException failure) {
      this.sleepMillis = sleepMillis;
      this.failure = failure;
    }

    private void call() {
      calls++;
      if (failure != null) {
        throw failure;
      }
      try {
        Thread.sleep(sleepMillis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    @Override
    public ForwardResult forward(Params params, Batch batch, State initial) {
      call();
      return inner.forward(params, batch, initial);
    }

    @Override
    public BpttResult lossAndGradient(Params params, Batch batch, State initial) {
      call();
      return inner.lossAndGradient(params, batch, initial);
    }

    @Override
    public String describe() {
      return "stand-in sleeping " + sleepMillis + " ms";
    }

    @Override
    public void close() {
      closed = true;
      inner.close();
    }
  }

  private static float[] jvmForward() {
    try (JvmEngine e = new JvmEngine(1)) {
      return e.forward(PARAMS, BATCH, null).outputs();
    }
  }

  @Test
  void theFirstCallTimesBothEnginesKeepsTheFasterAndClosesTheOther() {
    StandIn gpu = new StandIn(0, null);
    StandIn[] jvm = new StandIn[1];
    try (MeasuredEngine auto = new MeasuredEngine(gpu, () -> jvm[0] = new StandIn(20, null), 1, "h", 0.2)) {
      assertNull(auto.choice());
      assertTrue(auto.describe().startsWith("auto: the faster of stand-in sleeping 0 ms"), auto.describe());
      float[] out = auto.forward(PARAMS, BATCH, null).outputs();
      assertArrayEquals(jvmForward(), out, "the kept engine computes the call");
      assertEquals("gpu", auto.choice().device(), auto.choice().describe());
      assertEquals(2, auto.choice().rates().size());
      assertTrue(auto.choice().rates().get(0).seqPerS() > auto.choice().rates().get(1).seqPerS(), auto.choice().describe());
      assertTrue(auto.choice().shape().startsWith("forward: lstm L=1 F=2 H=8 O=1 seq2seq B=4 T=6, 1 JVM engine thread on h"), auto.choice().shape());
      assertTrue(jvm[0].calls >= 1 && jvm[0].closed, "the JVM engine was timed, then closed");
      assertFalse(gpu.closed);
      assertEquals("stand-in sleeping 0 ms", auto.describe());
      int before = gpu.calls;
      auto.forward(PARAMS, BATCH, null);
      assertEquals(before + 1, gpu.calls, "later calls are not timed");
    }
    assertTrue(gpu.closed, "closing the engine closes the kept one");
  }

  @Test
  void aSlowGpuLosesToTheJvmEngineAndIsClosed() {
    StandIn gpu = new StandIn(20, null);
    StandIn jvm = new StandIn(0, null);
    try (MeasuredEngine auto = new MeasuredEngine(gpu, () -> jvm, 1, "h", 0.2)) {
      auto.lossAndGradient(PARAMS, BATCH, null);
      assertEquals("jvm", auto.choice().device());
      assertTrue(auto.choice().shape().startsWith("training step: "), auto.choice().shape());
      assertTrue(gpu.closed);
      assertFalse(jvm.closed);
    }
    assertTrue(jvm.closed);
  }

  @Test
  void aGpuThatFailsIsReportedAndTheJvmEngineRuns() {
    StandIn gpu = new StandIn(0, new IllegalStateException("CL_OUT_OF_RESOURCES"));
    try (MeasuredEngine auto = new MeasuredEngine(gpu, () -> new StandIn(0, null), 1, "h", 0.1)) {
      assertArrayEquals(jvmForward(), auto.forward(PARAMS, BATCH, null).outputs());
      assertEquals("jvm", auto.choice().device());
      assertTrue(auto.choice().describe().contains("gpu failed (IllegalStateException: CL_OUT_OF_RESOURCES)"), auto.choice().describe());
      assertTrue(gpu.closed);
    }
  }

  @Test
  void aGpuWhoseLaunchFailsAfterThePickHandsThatCallAndTheRestToTheJvmEngine() {
    StandIn gpu = new StandIn(0, null);
    StandIn[] jvm = new StandIn[1];
    String before = Engines.gpuUnusable();
    // the GPU stand-in must win the pick, and the JVM stand-in sleeps 200 ms: a loaded 2-core host once measured
    // the 0 ms stand-in at 61 sequences/s against 111 for a 20 ms one (a helper's audit)
    try (MeasuredEngine auto = new MeasuredEngine(gpu, () -> jvm[0] = new StandIn(200, null), 1, "h", 0.2)) {
      auto.forward(PARAMS, BATCH, null);
      assertEquals("gpu", auto.choice().device(), auto.choice().describe());
      // as AparapiEngine throws where a launch failed on the GPU (Aparapi's thread pool never runs it)
      gpu.failure = new DeviceFallbackException("kernel BpttKernel op 'gemm' did not run: it failed on the GPU");
      double[] expected;
      try (JvmEngine e = new JvmEngine(1)) {
        expected = e.lossAndGradient(PARAMS, BATCH, null).gradients().gradient();
      }
      assertArrayEquals(expected, auto.lossAndGradient(PARAMS, BATCH, null).gradients().gradient(), "the JVM engine ran the call again");
      assertTrue(gpu.closed, "the GPU's engine is closed");
      assertTrue(auto.describe().startsWith("stand-in sleeping 200 ms"), auto.describe());
      assertTrue(Engines.gpuUnusable().contains("did not run: it failed on the GPU"), Engines.gpuUnusable());
      int gpuCalls = gpu.calls;
      int jvmCalls = jvm[0].calls;
      assertArrayEquals(jvmForward(), auto.forward(PARAMS, BATCH, null).outputs());
      assertEquals(gpuCalls, gpu.calls, "later calls do not try the GPU again");
      assertEquals(jvmCalls + 1, jvm[0].calls);
      assertFalse(jvm[0].closed);
    } finally {
      Engines.gpuFailed(before);
    }
    assertTrue(jvm[0].closed);
  }

  @Test
  void aFailureOtherThanALaunchThatDidNotRunIsTheCallersNotHandedOver() {
    StandIn gpu = new StandIn(0, null);
    try (MeasuredEngine auto = new MeasuredEngine(gpu, () -> new StandIn(20, null), 1, "h", 0.2)) {
      auto.forward(PARAMS, BATCH, null);
      assertEquals("gpu", auto.choice().device(), auto.choice().describe());
      BadInputException bad = new BadInputException("x: expected 2 features, found 3");
      gpu.failure = bad;
      assertEquals(bad, assertThrows(BadInputException.class, () -> auto.forward(PARAMS, BATCH, null)));
      assertFalse(gpu.closed, "bad input says nothing about the GPU");
    }
  }

  @Test
  void badInputIsReportedAsSuchNotAsEveryEngineFailing() {
    BadInputException bad = new BadInputException("x: expected 2 features, found 3");
    try (MeasuredEngine auto = new MeasuredEngine(new StandIn(0, bad), () -> new StandIn(0, bad), 1, "h", 0.1)) {
      assertEquals(bad, assertThrows(BadInputException.class, () -> auto.forward(PARAMS, BATCH, null)));
    }
  }

  @Test
  void theNextEngineOfTheSameShapeTakesTheCachedChoiceWithoutTiming() {
    try (MeasuredEngine first = new MeasuredEngine(new StandIn(20, null), () -> new StandIn(0, null), 1, "h", 0.1)) {
      first.forward(PARAMS, BATCH, null);
      assertEquals("jvm", first.choice().device());
    }
    StandIn gpu = new StandIn(0, null); // now the faster, but not timed again
    StandIn jvm = new StandIn(0, null);
    try (MeasuredEngine second = new MeasuredEngine(gpu, () -> jvm, 1, "h", 0.1)) {
      second.forward(PARAMS, BATCH, null);
      assertTrue(second.choice().cached(), second.choice().describe());
      assertEquals(0, gpu.calls);
      assertEquals(1, jvm.calls, "only the call itself");
      assertTrue(gpu.closed);
    }
  }

  /**
   * A grouped training step (lossAndGradients, as a training task calls it) is a training call:
   * timed as one, not handed the choice of an earlier engine's forward passes at the same shape
   * ("forward calls are timed as forward calls and training calls as training calls").
   */
  @Test
  void aGroupedTrainingCallIsNotTakenFromAForwardChoice() {
    try (MeasuredEngine first = new MeasuredEngine(new StandIn(20, null), () -> new StandIn(0, null), 1, "h", 0.1)) {
      first.forward(PARAMS, BATCH, null);
      assertTrue(first.choice().shape().startsWith("forward: "), first.choice().shape());
    }
    StandIn gpu = new StandIn(0, null);
    try (MeasuredEngine second = new MeasuredEngine(gpu, () -> new StandIn(20, null), 1, "h", 0.1)) {
      second.lossAndGradients(PARAMS, BATCH, null, new int[] {0, 2, 4});
      assertFalse(second.choice().cached(), "a training call took the forward passes' choice: " + second.choice().describe());
      assertTrue(second.choice().shape().startsWith("training step: "), second.choice().shape());
      assertEquals("gpu", second.choice().device(), second.choice().describe());
      assertTrue(gpu.calls >= 2, "the GPU stand-in was timed: " + gpu.calls);
    }
  }

  /**
   * The cache key holds the JVM engine's thread count ("The choice is cached per kind of call,
   * shape and host", the threads part of the key, constructor comment): an engine of 2 threads does
   * not take the choice timed for 1 thread at the same shape, and its shape names its threads.
   * No speed is compared here: only whether the second engine timed at all.
   */
  @Test
  void anotherThreadCountIsTimedAgainNotTakenFromTheCache() {
    try (MeasuredEngine one = new MeasuredEngine(new StandIn(0, null), () -> new StandIn(0, null), 1, "h", 0.05)) {
      one.forward(PARAMS, BATCH, null);
      assertFalse(one.choice().cached());
    }
    StandIn gpu = new StandIn(0, null);
    try (MeasuredEngine two = new MeasuredEngine(gpu, () -> new StandIn(0, null), 2, "h", 0.05)) {
      two.forward(PARAMS, BATCH, null);
      assertFalse(two.choice().cached(), "2 threads took the choice timed for 1: " + two.choice().describe());
      assertTrue(two.choice().shape().contains("B=4 T=6, 2 JVM engine threads on h"), two.choice().shape());
    }
    try (MeasuredEngine again = new MeasuredEngine(new StandIn(0, null), () -> new StandIn(0, null), 2, "h", 0.05)) {
      again.forward(PARAMS, BATCH, null);
      assertTrue(again.choice().cached(), "the same threads, shape and host: cached, " + again.choice().describe());
    }
  }

  /**
   * workingBytes (BpttEngine: the buffers kept between calls, or −1 where not counted): −1 before
   * the first call (nothing picked, nothing held), then the kept engine's own count; here the JVM
   * engine, picked over a GPU stand-in that fails, whose count after one forward call at this shape
   * is that of a JVM engine of its own after the same call.
   */
  @Test
  void workingBytesAreTheKeptEnginesAfterTheFirstCall() {
    long expected;
    try (JvmEngine e = new JvmEngine(1)) {
      e.forward(PARAMS, BATCH, null);
      expected = e.workingBytes();
    }
    assertTrue(expected > 0, "the JVM engine counts its buffers: " + expected);
    try (MeasuredEngine auto = new MeasuredEngine(new StandIn(0, new IllegalStateException("no GPU")), () -> new JvmEngine(1), 1, "wb", 0.05)) {
      assertEquals(-1, auto.workingBytes(), "before the first call");
      auto.forward(PARAMS, BATCH, null);
      assertEquals("jvm", auto.choice().device(), auto.choice().describe());
      assertEquals(expected, auto.workingBytes());
    }
  }

  /**
   * Each engine gets half the budget (the class comment, AutoDevice's: "each gets half the
   * budget"). A GPU stand-in of at least 30 ms a call under a budget of 0.2 s: its half, 0.1 s, is
   * spent once 4 calls have run (4 × 30 = 120 ms; the loop stops at the first check past 100 ms),
   * so it runs at most 4 calls, where the whole budget would let it run about 7 (7 × 30 = 210 ms).
   * The JVM stand-in (no sleep) is picked, so the GPU's calls are the timing's alone.
   */
  @Test
  void eachEngineIsTimedForHalfTheBudget() {
    StandIn gpu = new StandIn(30, null);
    try (MeasuredEngine auto = new MeasuredEngine(gpu, () -> new StandIn(0, null), 1, "half", 0.2)) {
      auto.forward(PARAMS, BATCH, null);
      assertEquals("jvm", auto.choice().device(), auto.choice().describe());
      assertTrue(gpu.calls >= 2 && gpu.calls <= 4, "the untimed call and 1 to 3 timed ones in 0.1 s: " + gpu.calls);
    }
  }

  @Test
  void theOpenClKernelsOnPoclLoseToTheJvmEngineWhenTimed() {
    // a real measurement: the kernels on PoCL run 12-21x slower than the JVM engine at H = 64 and
    // 256 (docs/PERFORMANCE.md), and at this tiny shape each of their launches costs more than the
    // JVM engine's whole call
    AparapiEngine opencl = new AparapiEngine(AparapiEngineTest.requireOpenClCpu(""));
    try (MeasuredEngine auto = new MeasuredEngine(opencl, () -> new JvmEngine(1), 1, "h", 0.4)) {
      float[] out = auto.forward(PARAMS, BATCH, null).outputs();
      assertEquals("jvm", auto.choice().device(), auto.choice().describe());
      assertTrue(auto.choice().rates().stream().allMatch(r -> r.error() == null && r.seqPerS() > 0), auto.choice().describe());
      assertArrayEquals(jvmForward(), out);
      assertTrue(auto.describe().startsWith("JVM engine"), auto.describe());
    }
  }
}
