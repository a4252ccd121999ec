package io.sparkrnn.infer;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkrnn.data.Normalization;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import org.junit.jupiter.api.Test;

/**
 * A mutation audit: predict's refusal of an output past float32 in raw units names where it is,
 * "output (t=…, b=…, o=…)" for seq2seq and "output (b=…, o=…)" for seq2one, in the outputs'
 * [T][B][O] layout (element i = (t·B + b)·O + o). The tests that covered the refusal checked only
 * "output (t=", so a location computed from the wrong divisor (b = i / O without the modulo, t =
 * i / O) passed them. Targets: mean 3.4e38, std 1e38 for both outputs, so an output 1 in the model's
 * units is 4.4e38 raw (past float32) and 0 is 3.4e38 (finite).
 */
class PredictionPastFloat32LocationTest {
  static final Normalization TOP = new Normalization(new double[] {0, 0}, new double[] {1, 1}, new double[] {3.4e38, 3.4e38},
      new double[] {1e38, 1e38});

  @Test
  void aSeq2seqOutputPastFloat32IsNamedByItsStepSequenceAndOutput() {
    // T = 3, B = 2, O = 2: only (t=2, b=1, o=1), element 11, is past float32
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 2, 2, 2, Mode.SEQ2SEQ, LossType.MSE);
    Batch batch = Batch.inputsOnly(3, 2, 2, new float[12]);
    float[] y = new float[12];
    y[11] = 1;
    Prediction.OutputPastFloat32Exception e = assertThrows(Prediction.OutputPastFloat32Exception.class,
        () -> Prediction.of(c, null, TOP, batch, y, false));
    assertTrue(e.getMessage().startsWith("output (t=2, b=1, o=1): "), e.getMessage());
  }

  @Test
  void aSeq2oneOutputPastFloat32IsNamedByItsSequenceAndOutput() {
    // B = 3, O = 2, one row per sequence: only (b=2, o=0), element 4, is past float32
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 2, 2, 2, Mode.SEQ2ONE, LossType.MSE);
    Batch batch = Batch.inputsOnly(4, 3, 2, new float[24]);
    float[] y = new float[6];
    y[4] = 1;
    Prediction.OutputPastFloat32Exception e = assertThrows(Prediction.OutputPastFloat32Exception.class,
        () -> Prediction.of(c, null, TOP, batch, y, false));
    assertTrue(e.getMessage().startsWith("output (b=2, o=0): "), e.getMessage());
  }
}
