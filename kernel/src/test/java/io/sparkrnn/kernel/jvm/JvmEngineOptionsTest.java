package io.sparkrnn.kernel.jvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttResult;
import io.sparkrnn.kernel.engine.Fixtures;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import java.net.URL;
import java.net.URLClassLoader;
import org.junit.jupiter.api.Test;

/**
 * The engine's thread options as JvmEngine's javadoc states them: {@code threads} is at most the
 * host's cores (0: every core), fewer than one thread is bad input, and
 * {@code -Dsparkrnn.jvm.slicesPerThread} cuts the batch into threads · slicesPerThread slices
 * (at most B), from[p] = ⌊B·p / P⌋ — the slices that that many threads would cut. Since each
 * slice's float32 gradient depends on its own sequences alone and the slices are added in float64,
 * one thread with two slices per thread must give the bits of two threads.
 */
class JvmEngineOptionsTest {

  /** "at most the host's cores (a Spark task's CPUs), or on every core for 0". */
  @Test
  void threadsAreCappedAtTheCoresAndZeroMeansEveryCore() {
    String before = System.getProperty(JvmEngine.THREADS_PROPERTY);
    System.clearProperty(JvmEngine.THREADS_PROPERTY);
    try {
      int cores = Runtime.getRuntime().availableProcessors();
      assertEquals(cores, JvmEngine.threadsFor(0), "0: every core");
      assertEquals(1, JvmEngine.threadsFor(1));
      assertEquals(cores, JvmEngine.threadsFor(cores + 5), "more threads than cores asked for: the cores");
      try (JvmEngine engine = new JvmEngine(cores + 5)) {
        assertEquals(cores, engine.threads());
      }
    } finally {
      restore(JvmEngine.THREADS_PROPERTY, before);
    }
  }

  /** new JvmEngine(math, threads) with threads &lt; 1 is refused as bad input naming the count, not left to fail in a call. */
  @Test
  void fewerThanOneThreadIsBadInput() {
    for (int threads : new int[] {0, -2}) {
      BadInputException e = assertThrows(BadInputException.class, () -> new JvmEngine(MathKernels.scalar(), threads),
          "threads = " + threads);
      assertTrue(e.getMessage().contains("threads") && e.getMessage().contains(String.valueOf(threads)), e.getMessage());
    }
  }

  /**
   * One thread with -Dsparkrnn.jvm.slicesPerThread=2 cuts a batch of 5 into [0, 2) and [2, 5), as
   * two threads do, so its loss and gradient have the bits of a two-thread engine (each slice's
   * float32 gradient added in float64); one slice of all 5 sums them in float32 instead.
   */
  @Test
  void slicesPerThreadCutsTheBatchAsThatManyThreadsWould() {
    ModelConfig config = new ModelConfig(CellType.LSTM, 1, 3, 7, 2, Mode.SEQ2SEQ, LossType.MSE);
    Params params = new Params(config, toFloats(Fixtures.randomParams(new ParamLayout(config).size(), 21)));
    Batch batch = Fixtures.randomBatch(config, 6, 5, true, 22);
    BpttResult two;
    try (JvmEngine engine = new JvmEngine(MathKernels.scalar(), 2)) {
      two = engine.lossAndGradient(params, batch, null);
    }
    BpttResult oneTwice;
    String before = System.getProperty(JvmEngine.SLICES_PROPERTY);
    System.setProperty(JvmEngine.SLICES_PROPERTY, "2");
    try (JvmEngine engine = new JvmEngine(MathKernels.scalar(), 1)) {
      oneTwice = engine.lossAndGradient(params, batch, null);
    } finally {
      restore(JvmEngine.SLICES_PROPERTY, before);
    }
    assertArrayEquals(two.gradients().gradient(), oneTwice.gradients().gradient(), "1 thread × 2 slices against 2 threads");
    assertEquals(two.gradients().lossSum(), oneTwice.gradients().lossSum());
  }

  /** close() frees the buffers: a later call is the caller's bug, refused rather than run on buffers made anew. */
  @Test
  void aClosedEngineRefusesCalls() {
    ModelConfig config = new ModelConfig(CellType.GRU, 1, 2, 3, 2, Mode.SEQ2ONE, LossType.MSE);
    Params params = Params.initialize(config, 3);
    Batch batch = Fixtures.randomBatch(config, 4, 2, false, 4);
    JvmEngine engine = new JvmEngine(MathKernels.scalar(), 1);
    engine.lossAndGradient(params, batch, null);
    engine.close();
    assertThrows(IllegalStateException.class, () -> engine.forward(params, batch, null), "forward after close");
    assertThrows(IllegalStateException.class, () -> engine.lossAndGradient(params, batch, null), "lossAndGradient after close");
    assertThrows(IllegalStateException.class, () -> engine.lossAndGradients(params, batch, null, new int[] {0, 1, 2}),
        "lossAndGradients after close");
  }

  /**
   * A slice keeps [T+1][Bs][max(G·H, F, O)] arrays (the head's outputs [T·Bs][O] among them): past
   * Java's 2^31 array limit the call is bad input that names the way out (tbptt), before it
   * allocates anything. Here (T+1)·Bs·O = 2048 · 1 · 2^21 = 2^32 values (T·O overflows an int); the model
   * itself is small (H = 1: 2·2^21 head values).
   */
  @Test
  void aSliceBeyondJavasArrayLimitIsBadInputNamingTheWayOut() {
    int O = 1 << 21;
    ModelConfig config = new ModelConfig(CellType.RNN, 1, 1, 1, O, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
    Params params = Params.zeros(config);
    int T = 2047;
    Batch batch = new Batch(T, 1, 1, new float[T], null, new int[T], null);
    try (JvmEngine engine = new JvmEngine(MathKernels.scalar(), 1)) {
      BadInputException train = assertThrows(BadInputException.class, () -> engine.lossAndGradient(params, batch, null));
      assertTrue(train.getMessage().contains("2^31") && train.getMessage().contains("tbptt"), train.getMessage());
      BadInputException forward = assertThrows(BadInputException.class, () -> engine.forward(params, batch, null));
      assertTrue(forward.getMessage().contains("2^31"), forward.getMessage());
    }
  }

  /**
   * -Dsparkrnn.jvm.kernels=scalar makes {@link MathKernels#best()} the scalar loops even where the
   * Vector API is loaded (as it is here). best() is chosen once per class, so a fresh copy of
   * MathKernels, in a class loader of its own, reads the property.
   */
  @Test
  void theKernelsPropertyForcesTheScalarLoops() throws Exception {
    assertTrue(MathKernels.vectorApiAvailable(), "surefire's argLine adds --add-modules=jdk.incubator.vector");
    URL classes = MathKernels.class.getProtectionDomain().getCodeSource().getLocation();
    String before = System.getProperty(MathKernels.PROPERTY);
    System.setProperty(MathKernels.PROPERTY, "scalar");
    try (URLClassLoader other = new URLClassLoader(new URL[] {classes}, ClassLoader.getPlatformClassLoader())) {
      Class<?> copy = Class.forName(MathKernels.class.getName(), true, other);
      Object best = copy.getMethod("best").invoke(null);
      assertEquals("scalar loops", copy.getMethod("describe").invoke(best));
      assertEquals(1, copy.getMethod("lanes").invoke(best));
    } finally {
      restore(MathKernels.PROPERTY, before);
    }
  }

  static float[] toFloats(double[] values) {
    float[] f = new float[values.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) values[i];
    }
    return f;
  }

  static void restore(String property, String before) {
    if (before == null) {
      System.clearProperty(property);
    } else {
      System.setProperty(property, before);
    }
  }
}
