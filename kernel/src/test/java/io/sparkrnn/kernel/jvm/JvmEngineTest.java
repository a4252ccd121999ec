package io.sparkrnn.kernel.jvm;

import static io.sparkrnn.kernel.testing.EngineComparison.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.kernel.device.Engines;
import io.sparkrnn.kernel.engine.BpttResult;
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
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The float32 JVM engine against the float64 reference, with both kernel sets (Vector API and
 * scalar) and with 1, 2 and 3 slices, at a tiny shape (every tail path of the products) and at a
 * shape wide enough for the SIMD tiles (H = 40: GH = 40..160 columns, 4-row tiles and a row tail),
 * and at one large enough for the work the engine shares out between its threads beside the slices
 * (F = 64, H = 96); at T = 1, and at B·T beyond one BPTT chunk of 256 rows.
 */
class JvmEngineTest {
  static final EngineComparison CHECK = new EngineComparison("jvm");

  record Case(CellType cell, int layers, Mode mode, LossType loss, boolean lengths, boolean initialState, int F, int H,
      int B, int T) {
    ModelConfig config() {
      return new ModelConfig(cell, layers, F, H, loss == LossType.CROSS_ENTROPY ? 4 : 2, mode, loss);
    }

    long seed() {
      return 1000L * cell.ordinal() + 100L * layers + 10L * mode.ordinal() + 4L * loss.ordinal() + (lengths ? 2 : 0)
          + (initialState ? 1 : 0) + 7L * H;
    }

    @Override
    public String toString() {
      return cell.id() + " L=" + layers + " " + mode.id() + " " + loss.id() + (lengths ? " lengths" : "")
          + (initialState ? " initial-state" : "") + " F=" + F + " H=" + H + " B=" + B + " T=" + T;
    }
  }

  static List<Case> cases() {
    List<Case> list = new ArrayList<>();
    for (CellType cell : CellType.values()) {
      for (int layers : new int[] {1, 2}) {
        for (Mode mode : Mode.values()) {
          for (LossType loss : LossType.values()) {
            list.add(new Case(cell, layers, mode, loss, false, false, 3, 5, 4, 6));
            list.add(new Case(cell, layers, mode, loss, true, true, 3, 5, 4, 6));
          }
        }
      }
      list.add(new Case(cell, 2, Mode.SEQ2SEQ, LossType.MSE, true, true, 17, 40, 11, 7));
      list.add(new Case(cell, 1, Mode.SEQ2ONE, LossType.CROSS_ENTROPY, true, false, 1, 40, 9, 5));
      // GH·H ≥ 2^15: W_hh packed on a second thread; 62,000 parameters: the float64 sum in ranges
      list.add(new Case(cell, 1, Mode.SEQ2SEQ, LossType.MSE, true, false, 64, 96, 11, 4));
      // T = 1: the first step is also the last, in both directions of BPTT
      list.add(new Case(cell, 1, Mode.SEQ2SEQ, LossType.MSE, false, true, 3, 5, 4, 1));
      list.add(new Case(cell, 1, Mode.SEQ2ONE, LossType.CROSS_ENTROPY, false, false, 3, 5, 4, 1));
      // B·T = 960 rows: BPTT runs in chunks of ⌊256/Bs⌋ steps (5, 10 or 16 for slices of 48, 24 or 16
      // sequences), so the gradient crosses chunk boundaries, and ragged lengths end inside chunks
      list.add(new Case(cell, 2, Mode.SEQ2SEQ, LossType.MSE, true, true, 2, 5, 48, 20));
    }
    return list;
  }

  @TestFactory
  Stream<DynamicTest> lossGradientOutputsAndStatesMatchFloat64Reference() {
    List<DynamicTest> tests = new ArrayList<>();
    for (MathKernels math : kernelSets()) {
      for (int threads : new int[] {1, 2, 3}) {
        JvmEngine engine = new JvmEngine(math, threads);
        for (Case c : cases()) {
          tests.add(DynamicTest.dynamicTest(engine.describe() + ": " + c, () -> checkAgainstReference(engine, c)));
        }
      }
    }
    return tests.stream();
  }

  /** The Vector API kernels when this JVM has them (surefire adds the module), and the scalar ones. */
  static List<MathKernels> kernelSets() {
    List<MathKernels> sets = new ArrayList<>();
    sets.add(MathKernels.best());
    sets.add(MathKernels.scalar());
    return sets;
  }

  @Test
  void testJvmHasTheVectorApi() {
    assertTrue(MathKernels.vectorApiAvailable(), "surefire's argLine should add --add-modules=jdk.incubator.vector");
    assertTrue(MathKernels.best().describe().startsWith("Vector API"), MathKernels.best().describe());
  }

  @Test
  void jvmDeviceCreatesTheJvmEngine() {
    try (var engine = Engines.create("kernel", "jvm")) {
      assertTrue(engine instanceof JvmEngine, engine.describe());
    }
  }

  /** Buffers grow for a larger batch and are reused, oversized, for a smaller one. */
  @Test
  void oneEngineServesGrowingAndShrinkingShapes() {
    JvmEngine engine = new JvmEngine(MathKernels.best(), 2);
    checkAgainstReference(engine, new Case(CellType.LSTM, 2, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY, true, true, 3, 5, 4, 6));
    checkAgainstReference(engine, new Case(CellType.LSTM, 2, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY, true, true, 3, 5, 7, 9));
    checkAgainstReference(engine, new Case(CellType.LSTM, 1, Mode.SEQ2SEQ, LossType.MSE, false, false, 3, 5, 2, 3));
    checkAgainstReference(engine, new Case(CellType.GRU, 1, Mode.SEQ2ONE, LossType.MSE, true, false, 2, 8, 3, 5));
    engine.close();
  }

  static void checkAgainstReference(JvmEngine engine, Case c) {
    ModelConfig config = c.config();
    int T = c.T();
    int B = c.B();
    Params params = new Params(config, toFloats(Fixtures.randomParams(new ParamLayout(config).size(), c.seed())));
    Batch batch = Fixtures.randomBatch(config, T, B, c.lengths(), c.seed() + 7);
    State initial = c.initialState() ? Fixtures.randomState(config, B, c.seed() + 13) : null;
    ReferenceEngine reference = new ReferenceEngine();

    BpttResult expected = reference.lossAndGradient(params, batch, initial);
    BpttResult actual = engine.lossAndGradient(params, batch, initial);
    String where = c + " on " + engine.describe();
    assertEquals(expected.gradients().count(), actual.gradients().count(), where + ": loss count");
    CHECK.assertClose(where + ": loss sum", new double[] {expected.gradients().lossSum()}, new double[] {actual.gradients().lossSum()});
    CHECK.assertGradientsClose(where, params.layout(), expected.gradients().gradient(), actual.gradients().gradient());
    CHECK.assertStatesClose(where + ": final state after lossAndGradient", expected.finalState(), actual.finalState());

    ForwardResult expectedForward = reference.forward(params, batch, initial);
    ForwardResult actualForward = engine.forward(params, batch, initial);
    CHECK.assertClose(where + ": forward outputs", toDoubles(expectedForward.outputs()), toDoubles(actualForward.outputs()));
    CHECK.assertStatesClose(where + ": final state after forward", expectedForward.finalState(), actualForward.finalState());
  }
}
