package io.sparkrnn.kernel.aparapi;

import static io.sparkrnn.kernel.testing.EngineComparison.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sparkrnn.kernel.engine.BpttResult;
import io.sparkrnn.kernel.engine.DeviceChoice;
import io.sparkrnn.kernel.engine.DeviceInfo;
import io.sparkrnn.kernel.engine.Fixtures;
import io.sparkrnn.kernel.engine.ForwardResult;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import io.sparkrnn.kernel.testing.EngineComparison;
import io.sparkrnn.kernel.testing.Refusals;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The float32 Aparapi engine against the float64 reference, on every device this machine has.
 *
 * <p>With {@code SPARKRNN_REQUIRE_OPENCL=1} (CI) the matrix runs on the OpenCL devices only, and a
 * test fails, rather than skips, when there is none or when a launch ran anywhere but OpenCL. The
 * JVM thread pool is then covered by {@link #jvmThreadPoolMatchesReference}.
 */
public class AparapiEngineTest {
  static final EngineComparison CHECK = new EngineComparison("aparapi");

  static final int F = 3;
  static final int H = 5;
  static final int B = 4;
  static final int T = 6;

  public static final boolean REQUIRE_OPENCL = "1".equals(System.getenv("SPARKRNN_REQUIRE_OPENCL"));

  private static final Map<DeviceChoice, AparapiEngine> ENGINES = new EnumMap<>(DeviceChoice.class);

  /**
   * The OpenCL CPU device (PoCL). Where there is none the test fails when OpenCL is required (CI)
   * and is aborted otherwise.
   *
   * @param purpose what the test needs it for, for the failure message ("" for nothing)
   */
  public static ResolvedDevice requireOpenClCpu(String purpose) {
    if (!Devices.available().contains(DeviceChoice.CPU_OPENCL)) {
      if (REQUIRE_OPENCL) {
        fail("SPARKRNN_REQUIRE_OPENCL=1 but there is no OpenCL CPU device" + (purpose.isEmpty() ? "" : " " + purpose) + ": "
            + Devices.list());
      }
      org.junit.jupiter.api.Assumptions.abort("no OpenCL CPU device (PoCL) here");
    }
    return Devices.resolve(DeviceChoice.CPU_OPENCL);
  }

  /** One engine per device, compiled once for the whole class. */
  static AparapiEngine engine(DeviceChoice device) {
    return ENGINES.computeIfAbsent(device, d -> new AparapiEngine(Devices.resolve(d)));
  }

  @AfterAll
  static void closeEngines() {
    ENGINES.values().forEach(AparapiEngine::close);
    ENGINES.clear();
  }

  /** The devices of the matrix: every available one, or the OpenCL ones alone when OpenCL is required. */
  static List<DeviceChoice> matrixDevices() {
    List<DeviceChoice> devices = new ArrayList<>(Devices.available());
    if (REQUIRE_OPENCL) {
      devices.remove(DeviceChoice.JVM);
    }
    return devices;
  }

  record Case(CellType cell, int layers, Mode mode, LossType loss, boolean lengths, boolean initialState) {
    ModelConfig config() {
      return new ModelConfig(cell, layers, F, H, loss == LossType.CROSS_ENTROPY ? 4 : 2, mode, loss);
    }

    long seed() {
      return 1000L * cell.ordinal() + 100L * layers + 10L * mode.ordinal() + 4L * loss.ordinal() + (lengths ? 2 : 0)
          + (initialState ? 1 : 0);
    }

    @Override
    public String toString() {
      return cell.id() + " L=" + layers + " " + mode.id() + " " + loss.id() + (lengths ? " lengths" : "")
          + (initialState ? " initial-state" : "");
    }
  }

  static List<Case> cases() {
    List<Case> list = new ArrayList<>();
    for (CellType cell : CellType.values()) {
      for (int layers : new int[] {1, 2}) {
        for (Mode mode : Mode.values()) {
          for (LossType loss : LossType.values()) {
            list.add(new Case(cell, layers, mode, loss, false, false));
            list.add(new Case(cell, layers, mode, loss, true, true));
          }
        }
      }
    }
    return list;
  }

  @TestFactory
  Stream<DynamicTest> lossGradientOutputsAndStatesMatchFloat64Reference() {
    List<DeviceChoice> devices = matrixDevices();
    if (devices.isEmpty()) {
      fail("SPARKRNN_REQUIRE_OPENCL=1 but Aparapi finds no OpenCL device: " + Devices.list());
    }
    List<DynamicTest> tests = new ArrayList<>();
    for (DeviceChoice device : devices) {
      for (Case c : cases()) {
        tests.add(DynamicTest.dynamicTest(device.id() + ": " + c, () -> {
          AparapiEngine engine = engine(device);
          if (REQUIRE_OPENCL) {
            assertTrue(engine.device().isOpenCL(), "SPARKRNN_REQUIRE_OPENCL=1 but the engine is on " + engine.describe());
          }
          checkAgainstReference(engine, c);
        }));
      }
    }
    return tests.stream();
  }

  /**
   * Seconds a test on Aparapi's Java thread pool may take (a few normally) before it fails instead
   * of hanging the build: Aparapi 3.0.2's local barrier on that pool
   * ({@code KernelRunner$FJSafeBarrier.block}) waits once on a monitor, without a generation or a
   * loop, so a wakeup that is not its release lets an item run ahead into the next barrier and the
   * group deadlocks (seen once, 2026-12-02: items parked at two different barriers of
   * {@code BpttKernel.gemm}, none running). The OpenCL paths do not use it.
   */
  static final long THREAD_POOL_TIMEOUT_S = 300;

  /** The JVM thread pool, one configuration per cell (it always runs, also when OpenCL is required). */
  @TestFactory
  Stream<DynamicTest> jvmThreadPoolMatchesReference() {
    List<DynamicTest> tests = new ArrayList<>();
    for (CellType cell : CellType.values()) {
      Case c = new Case(cell, 2, Mode.SEQ2SEQ, LossType.MSE, true, true);
      tests.add(DynamicTest.dynamicTest("jvm: " + c, () -> org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
          Duration.ofSeconds(THREAD_POOL_TIMEOUT_S), () -> checkAgainstReference(engine(DeviceChoice.JVM), c),
          "Aparapi's Java thread pool did not finish (its local barrier can deadlock; see THREAD_POOL_TIMEOUT_S)")));
    }
    return tests.stream();
  }

  static void checkAgainstReference(AparapiEngine engine, Case c) {
    checkAgainstReference(engine, c, T, B);
  }

  static void checkAgainstReference(AparapiEngine engine, Case c, int T, int B) {
    checkAgainstReference(engine, c, c.config(), T, B);
  }

  /** As above with another model shape than the case's own (its seed, lengths and initial-state choice stay). */
  static void checkAgainstReference(AparapiEngine engine, Case c, ModelConfig config, int T, int B) {
    Params params = new Params(config, toFloats(Fixtures.randomParams(new ParamLayout(config).size(), c.seed())));
    Batch batch = Fixtures.randomBatch(config, T, B, c.lengths(), c.seed() + 7);
    State initial = c.initialState() ? Fixtures.randomState(config, B, c.seed() + 13) : null;
    ReferenceEngine reference = new ReferenceEngine();

    BpttResult expected = reference.lossAndGradient(params, batch, initial);
    BpttResult actual = engine.lossAndGradient(params, batch, initial);
    checkRanWhereAsked(engine);
    assertEquals(AparapiEngine.launchesPerTrainingStep(config, T), engine.lastCallLaunches(), engine.executionReport());
    String where = c + " on " + engine.describe();
    assertEquals(expected.gradients().count(), actual.gradients().count(), where + ": loss count");
    CHECK.assertClose(where + ": loss sum", new double[] {expected.gradients().lossSum()}, new double[] {actual.gradients().lossSum()});
    CHECK.assertGradientsClose(where, params.layout(), expected.gradients().gradient(), actual.gradients().gradient());
    CHECK.assertStatesClose(where + ": final state after lossAndGradient", expected.finalState(), actual.finalState());

    ForwardResult expectedForward = reference.forward(params, batch, initial);
    ForwardResult actualForward = engine.forward(params, batch, initial);
    checkRanWhereAsked(engine);
    assertEquals(AparapiEngine.launchesPerForward(config, T), engine.lastCallLaunches(), engine.executionReport());
    CHECK.assertClose(where + ": forward outputs", toDoubles(expectedForward.outputs()), toDoubles(actualForward.outputs()));
    CHECK.assertStatesClose(where + ": final state after forward", expectedForward.finalState(), actualForward.finalState());
  }

  /** Each launch ran on the device the engine was made for; with OpenCL required, on OpenCL. */
  static void checkRanWhereAsked(AparapiEngine engine) {
    assertTrue(engine.fallbacks().isEmpty(), engine.executionReport());
    if (engine.device().isOpenCL()) {
      assertTrue(engine.lastCallRanOnOpenCL(), "expected every launch on OpenCL: " + engine.executionReport());
    } else {
      assertFalse(engine.lastCallRanOnOpenCL(), engine.executionReport());
    }
  }

  /** Buffers grow for a larger batch and are reused, oversized, for a smaller one. */
  @Test
  void oneEngineServesGrowingAndShrinkingShapes() {
    List<DeviceChoice> devices = matrixDevices();
    AparapiEngine engine = engine(devices.isEmpty() ? DeviceChoice.JVM : devices.get(0));
    Case c = new Case(CellType.LSTM, 2, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY, true, true);
    checkAgainstReference(engine, c, 6, 4);
    checkAgainstReference(engine, c, 9, 7);
    checkAgainstReference(engine, c, 3, 2);
    checkAgainstReference(engine, new Case(CellType.GRU, 1, Mode.SEQ2ONE, LossType.MSE, true, false), 5, 3);
  }

  /**
   * An input that differs from the device's copy in its last value alone is put all the same. The
   * head is linear (out = h·headᵀ + bias), so raising the last parameter, the bias of the last
   * output, by 1 raises that output by exactly 1 in every row and leaves the other outputs as they
   * were; a comparison that stopped one value short kept the old bias on the device.
   */
  @Test
  void aChangeInTheLastParameterAloneIsPut() {
    List<DeviceChoice> devices = matrixDevices();
    AparapiEngine engine = engine(devices.isEmpty() ? DeviceChoice.JVM : devices.get(0));
    ModelConfig config = new ModelConfig(CellType.GRU, 1, F, H, 2, Mode.SEQ2SEQ, LossType.MSE);
    int size = new ParamLayout(config).size();
    float[] values = toFloats(Fixtures.randomParams(size, 31));
    float[] raised = values.clone();
    raised[size - 1] += 1f;
    Batch batch = Fixtures.randomBatch(config, T, B, false, 32); // every row within its sequence (padding rows output 0)
    float[] before = engine.forward(new Params(config, values.clone()), batch, null).outputs();
    float[] after = engine.forward(new Params(config, raised), batch, null).outputs();
    int O = config.outputSize();
    for (int r = 0; r < T * B; r++) {
      assertEquals(before[r * O], after[r * O], 1e-6, "row " + r + ", output 0: its bias did not change");
      assertEquals(before[r * O + O - 1] + 1.0, after[r * O + O - 1], 1e-5, "row " + r + ", the last output: its bias rose by 1");
    }
  }

  /**
   * Cross-entropy with logits far apart: the loss is logsumexp(out) − out[c], which must be taken
   * around the largest logit (exp(out − max) ≤ 1). Around any other one exp overflows float32
   * (exp(x) = ∞ for x > 88.7): head biases +60 and −60 put the logits about 120 apart. The float64
   * reference gives the loss and the gradient; both must be finite and match it.
   */
  @Test
  void crossEntropyWithLogitsFarApartStaysFiniteAndMatchesFloat64Reference() {
    List<DeviceChoice> devices = matrixDevices();
    AparapiEngine engine = engine(devices.isEmpty() ? DeviceChoice.JVM : devices.get(0));
    ModelConfig config = new ModelConfig(CellType.LSTM, 1, F, H, 4, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
    ParamLayout layout = new ParamLayout(config);
    float[] values = toFloats(Fixtures.randomParams(layout.size(), 41));
    values[layout.headBias()] = 60f;
    values[layout.headBias() + 1] = -60f;
    Params params = new Params(config, values);
    Batch batch = Fixtures.randomBatch(config, T, B, false, 42);
    BpttResult expected = new ReferenceEngine().lossAndGradient(params, batch, null);
    BpttResult actual = engine.lossAndGradient(params, batch, null);
    checkRanWhereAsked(engine);
    assertTrue(Double.isFinite(actual.gradients().lossSum()), "loss sum " + actual.gradients().lossSum());
    CHECK.assertClose("loss sum, logits 120 apart", new double[] {expected.gradients().lossSum()},
        new double[] {actual.gradients().lossSum()});
    CHECK.assertGradientsClose("logits 120 apart", layout, expected.gradients().gradient(), actual.gradients().gradient());
  }

  /**
   * What the engine cannot compute is refused before any launch, as by the other engines: the
   * kernel reads dout[row·O + class] unchecked, so a class id equal to O would take the next row's
   * logit, and an initial state of another batch size would be read past its end. A closed engine
   * (its kernel disposed) refuses every call.
   */
  @Test
  void badInputAndAClosedEngineAreRefusedBeforeAnyLaunch() {
    List<DeviceChoice> devices = matrixDevices();
    DeviceChoice device = devices.isEmpty() ? DeviceChoice.JVM : devices.get(0);
    AparapiEngine engine = engine(device);
    ModelConfig config = new ModelConfig(CellType.LSTM, 1, F, H, 3, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
    Params params = new Params(config, toFloats(Fixtures.randomParams(new ParamLayout(config).size(), 51)));
    // T = 2, B = 2, O = 3: class id 3 at row t·B + b = 1, (t=0, b=1)
    Batch badClass = new Batch(2, 2, F, new float[2 * 2 * F], null, new int[] {0, 3, 2, 1}, null);
    Refusals.refused(() -> engine.lossAndGradient(params, badClass, null), "class id 3");
    Batch batch = new Batch(2, 2, F, new float[2 * 2 * F], null, new int[] {0, 1, 2, 1}, null);
    State threeSequences = Fixtures.randomState(config, 3, 52);
    Refusals.refused(() -> engine.lossAndGradient(params, batch, threeSequences), "initial state");
    Refusals.refused(() -> engine.forward(params, batch, threeSequences), "initial state");
    AparapiEngine closed = new AparapiEngine(Devices.resolve(device));
    closed.close();
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> closed.forward(params, batch, null));
    assertTrue(e.getMessage().contains("closed"), e.getMessage());
  }

  @Test
  void namedDeviceThatIsAbsentFailsWithClearMessage() {
    if (Devices.available().contains(DeviceChoice.GPU)) {
      return; // a GPU is present: nothing absent to name here
    }
    DeviceUnavailableException e = org.junit.jupiter.api.Assertions.assertThrows(DeviceUnavailableException.class,
        () -> new AparapiEngine("gpu"));
    assertTrue(e.getMessage().contains("--device gpu") && e.getMessage().contains("no OpenCL GPU"), e.getMessage());
  }

  @Test
  void autoPicksGpuElseOpenClCpuElseJvm() {
    List<DeviceChoice> available = Devices.available();
    ResolvedDevice auto = Devices.resolve("auto");
    DeviceChoice expected = available.contains(DeviceChoice.GPU) ? DeviceChoice.GPU
        : available.contains(DeviceChoice.CPU_OPENCL) ? DeviceChoice.CPU_OPENCL : DeviceChoice.JVM;
    assertEquals(Devices.resolve(expected).info(), auto.info(), auto.reason());
    assertFalse(auto.explicit());
  }

  @Test
  void listNamesEveryOpenClDeviceAndTheJvm() {
    List<DeviceInfo> list = Devices.list();
    assertEquals("JVM", list.get(list.size() - 1).type(), list.toString());
    if (REQUIRE_OPENCL) {
      assertTrue(list.stream().anyMatch(DeviceInfo::openCL),
          "SPARKRNN_REQUIRE_OPENCL=1 but no OpenCL device is listed: " + list);
    }
  }

  @Test
  void unknownDeviceNameIsRejected() {
    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> Devices.resolve("tpu"));
    assertTrue(e.getMessage().contains("auto, gpu, cpu-opencl, jvm"), e.getMessage());
  }
}
