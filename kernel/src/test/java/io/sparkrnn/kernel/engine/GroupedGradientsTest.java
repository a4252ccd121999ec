package io.sparkrnn.kernel.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkrnn.kernel.aparapi.Devices;
import io.sparkrnn.kernel.device.Engines;
import io.sparkrnn.kernel.jvm.JvmEngine;
import io.sparkrnn.kernel.jvm.MathKernels;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link BpttEngine#lossAndGradients}: a group's sum depends on the group's sequences alone. The
 * same group, computed inside batches cut differently, on 1 or 3 threads, or as a batch of its
 * own, gives the same bits; its final states land at its place in the batch.
 */
class GroupedGradientsTest {
  static final ModelConfig LSTM = new ModelConfig(CellType.LSTM, 2, 2, 8, 1, Mode.SEQ2SEQ, LossType.MSE);
  static final ModelConfig GRU_ONE = new ModelConfig(CellType.GRU, 1, 2, 8, 3, Mode.SEQ2ONE, LossType.CROSS_ENTROPY);

  static final boolean REQUIRE_OPENCL = "1".equals(System.getenv("SPARKRNN_REQUIRE_OPENCL"));

  /** jvm (on {@code threads}), reference, or cpu-opencl: the Aparapi kernels, which run each group as a batch of its own. */
  static BpttEngine engine(String kind, int threads) {
    return switch (kind) {
      case "reference" -> new ReferenceEngine();
      case "cpu-opencl" -> Engines.create("kernel", "cpu-opencl");
      default -> new JvmEngine(MathKernels.best(), threads);
    };
  }

  /** The OpenCL rows run where PoCL (or another OpenCL CPU) is; with SPARKRNN_REQUIRE_OPENCL=1 they fail without one. */
  static void requireDevice(String kind) {
    if (kind.equals("cpu-opencl") && !REQUIRE_OPENCL) {
      org.junit.jupiter.api.Assumptions.assumeTrue(Devices.available().contains(DeviceChoice.CPU_OPENCL),
          "no OpenCL CPU device: " + Devices.list());
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"jvm", "reference", "cpu-opencl"})
  void aGroupsSumIsTheSameWhateverElseIsInTheCallAndHowManyThreadsRunIt(String kind) {
    requireDevice(kind);
    for (ModelConfig config : new ModelConfig[] {LSTM, GRU_ONE}) {
      Params params = new Params(config, toFloats(Fixtures.randomParams(new ParamLayout(config).size(), 3)));
      Batch batch = Fixtures.randomBatch(config, 7, 11, true, 4);
      State initial = config.mode() == Mode.SEQ2SEQ ? Fixtures.randomState(config, 11, 5) : null;
      // sequences [3, 7) are one group in both cuts; the rest is cut differently
      GroupedResult a;
      GroupedResult b;
      try (BpttEngine one = engine(kind, 1); BpttEngine three = engine(kind, 3)) {
        a = one.lossAndGradients(params, batch, initial, new int[] {0, 3, 7, 11});
        b = three.lossAndGradients(params, batch, initial, new int[] {0, 1, 3, 7, 9, 10, 11});
      }
      GradientSum alone;
      State aloneState;
      try (BpttEngine e = engine(kind, 1)) { // one thread: the JVM engine runs the batch as one slice
        BpttResult r = e.lossAndGradient(params, batch.sequences(config, 3, 7), initial == null ? null : initial.sequences(3, 7));
        alone = r.gradients();
        aloneState = r.finalState();
      }
      for (GradientSum g : new GradientSum[] {a.groups()[1], b.groups()[2]}) {
        assertArrayEquals(alone.gradient(), g.gradient(), kind + " " + config.cell().id() + ": gradient of sequences [3, 7)");
        assertEquals(alone.lossSum(), g.lossSum());
        assertEquals(alone.count(), g.count());
      }
      assertArrayEquals(aloneState.h(), a.finalState().sequences(3, 7).h(), "final h of the group at its place");
      assertArrayEquals(b.finalState().h(), a.finalState().h(), "final states do not depend on the cut");
      // the groups' counts add up to the batch's
      long count = 0;
      for (GradientSum g : b.groups()) {
        count += g.count();
      }
      assertEquals(batch.lossCount(config), count);
    }
  }

  /**
   * The JVM engine hands its groups' float32 sums over and starts the next call on new zeroed ones,
   * or on arrays a caller released, zeroed again: a result read after later calls (other weights, a
   * plain call) still holds its own sums, and a repeated call gives the same bits, neither added
   * onto the sums before nor onto a released result's.
   */
  @org.junit.jupiter.api.Test
  void aResultIsTheCallersAndTheNextCallStartsFromZero() {
    ModelConfig config = LSTM;
    int size = new ParamLayout(config).size();
    Params params = new Params(config, toFloats(Fixtures.randomParams(size, 3)));
    Params other = new Params(config, toFloats(Fixtures.randomParams(size, 9)));
    Batch batch = Fixtures.randomBatch(config, 7, 11, true, 4);
    int[] bounds = {0, 3, 7, 11};
    GroupedResult expected;
    BpttResult expectedPlain;
    try (BpttEngine fresh = engine("jvm", 2)) {
      expected = fresh.lossAndGradients(params, batch, null, bounds);
      expected.groups();
    }
    try (BpttEngine fresh = engine("jvm", 2)) {
      expectedPlain = fresh.lossAndGradient(params, batch, null);
    }
    try (BpttEngine e = engine("jvm", 2)) {
      GroupedResult first = e.lossAndGradients(params, batch, null, bounds);
      GroupedResult released = e.lossAndGradients(other, batch, null, bounds);
      released.release(); // its arrays, holding other's sums, go back to the engine for the calls below
      assertThrows(IllegalStateException.class, released::groups, "sums read after release");
      assertThrows(IllegalStateException.class, () -> released.widen(0, 0, 1, new double[1], 0), "a range read after release");
      BpttResult plain = e.lossAndGradient(params, batch, null);
      e.lossAndGradients(other, batch, null, bounds).release();
      GroupedResult again = e.lossAndGradients(params, batch, null, bounds);
      assertArrayEquals(expectedPlain.gradients().gradient(), plain.gradients().gradient(), "a plain call after grouped ones");
      for (GroupedResult r : new GroupedResult[] {first, again}) {
        for (int g = 0; g < 3; g++) {
          assertArrayEquals(expected.groups()[g].gradient(), r.groups()[g].gradient(), "group " + g);
          assertEquals(expected.groups()[g].lossSum(), r.groups()[g].lossSum());
          assertEquals(expected.groups()[g].count(), r.groups()[g].count());
        }
      }
    }
  }

  /** Sums made float64 by groups() before release() stay readable, by groups() and widen alike; groups of unequal sizes are a bug. */
  @org.junit.jupiter.api.Test
  void float64SumsMadeBeforeReleaseStayTheCallers() {
    float[][] leaves = {{1.5f, -2f, 3f}, {0.25f, 8f, -1f}};
    GroupedResult r = GroupedResult.ofFloat32(new double[] {1, 2}, new long[] {3, 4}, leaves, 3, null, arrays -> Arrays.fill(arrays[1], 99f));
    GradientSum[] made = r.groups();
    r.release(); // the engine's stand-in overwrites a leaf, as a later call would
    double[] range = new double[2];
    r.widen(1, 1, 3, range, 0);
    assertArrayEquals(new double[] {8, -1}, range, "widen reads the float64 copies once they exist");
    assertArrayEquals(new double[] {0.25, 8, -1}, made[1].gradient());
    assertThrows(IllegalStateException.class, () -> new GroupedResult(new GradientSum[] {new GradientSum(3), new GradientSum(2)}, null));
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"jvm", "reference"})
  void boundsThatDoNotCutTheBatchAreRefused(String kind) {
    Params params = Params.initialize(LSTM, 1);
    Batch batch = Fixtures.randomBatch(LSTM, 3, 4, false, 1);
    try (BpttEngine e = engine(kind, 2)) {
      assertThrows(IllegalArgumentException.class, () -> e.lossAndGradients(params, batch, null, new int[] {0, 2, 2, 4}));
      assertThrows(IllegalArgumentException.class, () -> e.lossAndGradients(params, batch, null, new int[] {0, 3}));
    }
  }

  static float[] toFloats(double[] d) {
    float[] f = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      f[i] = (float) d[i];
    }
    return f;
  }
}
