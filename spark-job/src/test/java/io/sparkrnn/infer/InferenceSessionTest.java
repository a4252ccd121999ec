package io.sparkrnn.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Normalization;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.BpttEngine;
import io.sparkrnn.kernel.engine.BpttResult;
import io.sparkrnn.kernel.engine.ForwardResult;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import io.sparkrnn.model.ModelMetadata;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class InferenceSessionTest {
  /** Step-by-step and whole-sequence runs of the float64 reference differ only by float32 state rounding between calls. */
  static final float STEP_TOL = 1e-6f;

  static TrainedModel model() {
    ModelConfig c = new ModelConfig(CellType.LSTM, 2, 2, 5, 2, Mode.SEQ2SEQ, LossType.MSE);
    Map<String, String> meta = Map.of(ModelMetadata.KEY_NORMALIZATION, Json.write(Map.of(
        "input_mean", List.of(1.0, -2.0), "input_std", List.of(2.0, 0.5),
        "target_mean", List.of(0.5, 3.0), "target_std", List.of(4.0, 0.25))));
    return TrainedModel.of(Params.initialize(c, 3), meta);
  }

  @Test
  void steppingOneStepAtATimeEqualsOneForwardOverTheSequenceInRawUnits() {
    TrainedModel m = model();
    int T = 6, B = 3, F = 2;
    float[] raw = new float[T * B * F];
    SplittableRandom r = new SplittableRandom(1);
    for (int i = 0; i < raw.length; i++) {
      raw[i] = (float) (r.nextDouble() * 4 - 2);
    }
    Normalization n = m.normalization();
    float[] whole = m.outputsToRawUnits(new ReferenceEngine().forward(m.params(),
        Batch.inputsOnly(T, B, F, m.inputsToModelUnits(raw)), null).outputs());
    try (InferenceSession s = m.openSession(B, "reference", "jvm")) {
      for (int pass = 0; pass < 2; pass++) {                        // the second pass after reset() repeats the first
        for (int t = 0; t < T; t++) {
          float[] y = s.step(Arrays.copyOfRange(raw, t * B * F, (t + 1) * B * F));
          assertArrayEquals(Arrays.copyOfRange(whole, t * B * 2, (t + 1) * B * 2), y, STEP_TOL,
              "pass " + pass + ", step " + t);
        }
        s.reset();
      }
    }
    assertArrayEquals(new double[] {0.5, 3.0}, n.targetMean());
  }

  @Test
  void stepSymbolsFeedsEachIdOneHotAtItsOwnPosition() {
    // RNN with F = H = O = 3, W_ih = 5·I, W_hh = 0, head = I, biases 0: from any state, the logits of a
    // one-hot input e_k are tanh(5)·e_k, so each sequence's output row shows which position was set
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 3, 3, 3, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
    Params p = Params.zeros(c);
    p.set(ParamLayout.weightIhName(0), new float[] {5, 0, 0, 0, 5, 0, 0, 0, 5});
    p.set(ParamLayout.HEAD_WEIGHT, new float[] {1, 0, 0, 0, 1, 0, 0, 0, 1});
    float on = (float) Math.tanh(5);
    try (InferenceSession s = TrainedModel.of(p, null).openSession(3, "reference", "jvm")) {
      assertArrayEquals(new float[] {0, 0, on, on, 0, 0, 0, on, 0}, s.stepSymbols(new int[] {2, 0, 1}), 1e-6f);
    }
  }

  @Test
  void stepSymbolsNeedsAClassModel() {
    try (InferenceSession s = model().openSession(1, "reference", "jvm")) {
      assertThrows(IllegalArgumentException.class, () -> s.stepSymbols(new int[] {0}));
    }
  }

  /** One-hot class models with F = O = 3 and the vocabulary [a, b, c]: ids 0, 1, 2 are the only valid ones. */
  static TrainedModel threeSymbols() {
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 3, 2, 3, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
    return TrainedModel.of(Params.initialize(c, 4), Map.of(ModelMetadata.KEY_VOCABULARY, Json.write(List.of("a", "b", "c"))));
  }

  @Test
  void stepSymbolsRefusesAnIdOutsideZeroToFNamingItsPosition() {
    // the documented range of an id is [0, F): F = 3 itself has no one-hot position
    try (InferenceSession s = threeSymbols().openSession(2, "reference", "jvm")) {
      BadInputException e = assertThrows(BadInputException.class, () -> s.stepSymbols(new int[] {0, 3}));
      assertEquals("stepSymbols: id 3 at b=1 is outside [0, 3)", e.getMessage());
      assertThrows(BadInputException.class, () -> s.stepSymbols(new int[] {-1, 0}));
      assertEquals(6, s.stepSymbols(new int[] {0, 2}).length, "ids 0 and F - 1 = 2 are valid: logits [B=2][O=3]");
    }
  }

  @Test
  void stepSymbolsRefusesAClassModelWhoseFDiffersFromO() {
    // a cross_entropy model with F = 2 inputs and O = 3 classes: a class id has no one-hot input position of its own
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 2, 2, 3, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
    try (InferenceSession s = TrainedModel.of(Params.initialize(c, 4), null).openSession(1, "reference", "jvm")) {
      BadInputException e = assertThrows(BadInputException.class, () -> s.stepSymbols(new int[] {1}));
      assertTrue(e.getMessage().contains("F=2, O=3"), e.getMessage());
    }
  }

  @Test
  void symbolIdIsThePositionInTheVocabularyAndAnUnknownSymbolIsRefused() {
    try (InferenceSession s = threeSymbols().openSession(1, "reference", "jvm")) {
      assertEquals(2, s.symbolId("c"));
      BadInputException e = assertThrows(BadInputException.class, () -> s.symbolId("z"));
      assertTrue(e.getMessage().contains("'z'"), e.getMessage());
    }
  }

  @Test
  void stepModelUnitsNeitherNormalisesTheInputsNorDenormalisesTheOutputs() {
    // the scalar RNN of PredictionAndGenerationTest: h' = tanh(A x + C h + BIAS), y = W h' + D, from h = 0.
    // In model units x = 0.5 gives y = 1.2·tanh(0.8·0.5 + 0.1) − 0.3 = 1.2·tanh(0.5) − 0.3 = 0.254483...
    // In raw units the same step takes x_raw = 0.5·2 + 3 = 4 (input std 2, mean 3) and gives y·0.5 − 1 (target std 0.5, mean −1).
    double y = PredictionAndGenerationTest.W * Math.tanh(PredictionAndGenerationTest.A * 0.5 + PredictionAndGenerationTest.BIAS)
        + PredictionAndGenerationTest.D;
    TrainedModel m = PredictionAndGenerationTest.scalarRnn();
    try (InferenceSession s = m.openSession(1, "reference", "jvm")) {
      assertEquals(y, s.stepModelUnits(new float[] {0.5f})[0], STEP_TOL, "model units in and out");
      s.reset();
      assertEquals(y * 0.5 - 1.0, s.step(new float[] {4f})[0], STEP_TOL, "raw units in and out");
    }
  }

  /** The reference engine, counting its close() calls. */
  static final class CountingEngine implements BpttEngine {
    final ReferenceEngine inner = new ReferenceEngine();
    int closes;

    @Override
    public ForwardResult forward(Params params, Batch batch, State initial) {
      return inner.forward(params, batch, initial);
    }

    @Override
    public BpttResult lossAndGradient(Params params, Batch batch, State initial) {
      return inner.lossAndGradient(params, batch, initial);
    }

    @Override
    public String describe() {
      return "counting " + inner.describe();
    }

    @Override
    public void close() {
      closes++;
    }
  }

  @Test
  void aSessionClosesTheEngineItOpenedAndLeavesTheCallersOpen() {
    // close(): "Closes the engine if the session opened it"; openSession(B, engine) is "an engine the caller owns (and closes)"
    CountingEngine callers = new CountingEngine();
    try (InferenceSession s = model().openSession(1, callers)) {
      s.step(new float[] {0f, 0f});
    }
    assertEquals(0, callers.closes, "the caller's engine was closed by the session");
    CountingEngine owned = new CountingEngine();
    new InferenceSession(model(), owned, true, 1).close();     // as openSession(B, engine, device) makes it
    assertEquals(1, owned.closes, "the session's own engine was left open");
  }
}
