package io.sparkrnn.kernel.jvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.kernel.engine.BpttResult;
import io.sparkrnn.kernel.engine.ForwardResult;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A forward call reuses the transposed and packed weights of the last forward call when the
 * values are the same, so a call after the values changed in place (as the optimizer changes them)
 * must see the new ones: every forward below gives, bit for bit, what a fresh engine gives. (The
 * packed copies exist with the Vector API kernels of any width; with the scalar loops the cases
 * still run, and pass trivially on that point.)
 */
class JvmEngineWeightReuseTest {

  @ParameterizedTest(name = "{0} H={1}")
  @CsvSource({"lstm, 32", "gru, 48", "rnn, 64"}) // H = 32..64: packed W_hhᵀ (strips of 2V columns) at every vector width
  void aForwardCallSeesWeightsChangedInPlaceSinceTheLast(String cell, int H) {
    ModelConfig config = new ModelConfig(CellType.parse(cell), 2, 3, H, 2, Mode.SEQ2SEQ, LossType.MSE);
    Params params = Params.initialize(config, 5);
    ParamLayout layout = params.layout();
    float[] w = params.values();
    Batch eight = Batch.random(config, 4, 8, 6);
    Batch one = Batch.random(config, 3, 1, 7);
    try (JvmEngine engine = new JvmEngine(MathKernels.best(), 2)) {
      assertSameAsFresh(engine, params, eight, "first call");
      assertSameAsFresh(engine, params, eight, "the same values again (reused)");
      w[layout.weightHh(1) + 7] += 0.25f; // one recurrent weight of the upper layer
      assertSameAsFresh(engine, params, eight, "a W_hh weight changed in place");
      w[layout.weightIh(0)] = -w[layout.weightIh(0)];
      assertSameAsFresh(engine, params, eight, "a W_ih weight changed");
      w[layout.biasHh(0) + 1] += 1f;
      assertSameAsFresh(engine, params, eight, "a bias changed");
      w[layout.headWeight() + 2] *= 2f;
      assertSameAsFresh(engine, params, eight, "a head weight changed");
      assertSameAsFresh(engine, params, one, "B = 1: no packed copies needed");
      w[layout.weightHh(0) + 3] -= 0.5f;
      assertSameAsFresh(engine, params, one, "changed, then loaded without the packed copies");
      assertSameAsFresh(engine, params, eight, "the same values, now with the packed copies they lack");
      engine.lossAndGradient(params, eight, null);
      w[layout.weightHh(0)] += 0.125f; // as an optimizer step after a training call
      assertSameAsFresh(engine, params, eight, "after a training call and a step");
    }
  }

  /** Evaluating a saved model on an engine that trained other weights since its last forward call. */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"lstm", "gru"})
  void aForwardCallAfterTrainingOtherWeightsSeesItsOwn(String cell) {
    ModelConfig config = new ModelConfig(CellType.parse(cell), 1, 2, 32, 1, Mode.SEQ2SEQ, LossType.MSE);
    Params saved = Params.initialize(config, 8);
    Params training = Params.initialize(config, 9);
    Batch batch = Batch.random(config, 5, 8, 10);
    try (JvmEngine engine = new JvmEngine(MathKernels.best(), 2)) {
      assertSameAsFresh(engine, saved, batch, "the saved model");
      engine.lossAndGradient(training, batch, null);
      assertSameAsFresh(engine, saved, batch, "the saved model again, after training other weights");
      assertSameAsFresh(engine, training, batch, "the trained weights");
    }
  }

  /**
   * Two models of the same parameter count but other shapes, one engine: LSTM H = 3 has
   * 4H(F + H + 2) + O(H + 1) parameters, 12 + 60 + 16 = 88 at F = 1, O = 4 and 24 + 60 + 4 = 88 at
   * F = 2, O = 1. The second model's W_ihᵀ is [2][12], not [1][12], and its head [1][3], not [4][3]:
   * the engine must lay out each model's weights by its own shape, in forward and training calls.
   */
  @Test
  void aModelOfTheSameSizeButAnotherShapeGetsItsOwnLayouts() {
    ModelConfig first = new ModelConfig(CellType.LSTM, 1, 1, 3, 4, Mode.SEQ2SEQ, LossType.MSE);
    ModelConfig second = new ModelConfig(CellType.LSTM, 1, 2, 3, 1, Mode.SEQ2SEQ, LossType.MSE);
    Params a = Params.initialize(first, 11);
    Params b = Params.initialize(second, 12);
    assertEquals(a.layout().size(), b.layout().size(), "the two models' parameter counts");
    Batch batchA = Batch.random(first, 4, 8, 13);
    Batch batchB = Batch.random(second, 4, 8, 14);
    try (JvmEngine engine = new JvmEngine(MathKernels.best(), 2)) {
      assertSameAsFresh(engine, a, batchA, "the first model");
      assertSameAsFresh(engine, b, batchB, "a model of the same size, another shape, after it");
      engine.lossAndGradient(a, batchA, null);
      BpttResult got = engine.lossAndGradient(b, batchB, null);
      try (JvmEngine fresh = new JvmEngine(MathKernels.best(), 2)) {
        BpttResult want = fresh.lossAndGradient(b, batchB, null);
        assertArrayEquals(want.gradients().gradient(), got.gradients().gradient(), "training the second model after the first");
      }
    }
  }

  private static void assertSameAsFresh(JvmEngine engine, Params params, Batch batch, String when) {
    ForwardResult got = engine.forward(params, batch, null);
    try (JvmEngine fresh = new JvmEngine(MathKernels.best(), 2)) {
      ForwardResult want = fresh.forward(new Params(params.layout(), params.values().clone()), batch, null);
      assertArrayEquals(want.outputs(), got.outputs(), when + ": outputs");
      assertArrayEquals(want.finalState().h(), got.finalState().h(), when + ": final h");
    }
  }
}
