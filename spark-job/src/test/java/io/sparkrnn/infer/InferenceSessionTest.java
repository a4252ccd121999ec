package io.sparkrnn.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkrnn.data.Normalization;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.model.ModelMetadata;
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
          float[] y = s.step(java.util.Arrays.copyOfRange(raw, t * B * F, (t + 1) * B * F));
          assertArrayEquals(java.util.Arrays.copyOfRange(whole, t * B * 2, (t + 1) * B * 2), y, STEP_TOL,
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
}
