package io.sparkrnn.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkrnn.data.Normalization;
import io.sparkrnn.kernel.BadInputException;
import io.sparkrnn.kernel.engine.ReferenceEngine;
import io.sparkrnn.kernel.generate.Sampler;
import io.sparkrnn.kernel.io.Json;
import io.sparkrnn.kernel.io.SafeTensors;
import io.sparkrnn.kernel.io.SafeTensorsFile;
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
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * What predict and generate hand back, on hand-set outputs and a scalar RNN stepped in float64 by
 * the test: units, padding, seq2one rows, argmax ids, text decoding, and the continuous feedback
 * {@code x' = (y·t_std + t_mean − i_mean) / i_std} from each sequence's own last primer step.
 */
public class PredictionAndGenerationTest {
  /** t_mean 5, t_std 2: an output 1 is 7 raw, −1 is 3. */
  static final Normalization UNITS = new Normalization(new double[] {0}, new double[] {1}, new double[] {5}, new double[] {2});

  @Test
  void regressionOutputsGoToRawUnitsAndPaddingStaysZero() {
    // T = 3, B = 2, lengths {3, 1}: (t, b) at t·2 + b; the engine leaves padded outputs 0
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
    Batch batch = new Batch(3, 2, 1, new float[6], null, null, new int[] {3, 1});
    Prediction p = Prediction.of(c, null, UNITS, batch, new float[] {1, 1, 1, 0, 1, 0}, false);
    assertArrayEquals(new float[] {7, 7, 7, 0, 7, 0}, p.output());
    assertArrayEquals(new int[] {3, 2, 1}, p.shape());
    assertArrayEquals(new float[] {1, 1, 1, 0, 1, 0}, Prediction.of(c, null, UNITS, batch, new float[] {1, 1, 1, 0, 1, 0}, true).output(),
        "--units model leaves them as they are");
  }

  @Test
  void outputsOfAModelWithInputStatisticsOnlyAreLeftAsTheyAre() {
    // inputs z-scored (mean 5, std 2) but no target statistics: y · std + mean has nothing to apply, the outputs are raw
    Normalization inputsOnly = new Normalization(new double[] {5}, new double[] {2}, null, null);
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2SEQ, LossType.MSE);
    Batch batch = Batch.inputsOnly(2, 1, 1, new float[2]);
    assertArrayEquals(new float[] {1.5f, -2f}, Prediction.of(c, null, inputsOnly, batch, new float[] {1.5f, -2f}, false).output());
  }

  @Test
  void seq2oneOutputsAreOneRowPerSequenceInRawUnits() {
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 1, 2, 1, Mode.SEQ2ONE, LossType.MSE);
    Batch batch = new Batch(3, 2, 1, new float[6], null, null, new int[] {3, 1});
    Prediction p = Prediction.of(c, null, UNITS, batch, new float[] {1, -1}, false);
    assertArrayEquals(new float[] {7, 3}, p.output());
    assertArrayEquals(new int[] {2, 1}, p.shape());
  }

  @Test
  void classIdsAreTheArgmaxOfValidStepsAndMinusOneOnPadding() {
    // O = 2, every logit row (0, 1): id 1 where the step is valid; vocabulary [x, y] decodes it
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 2, 2, 2, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
    Batch batch = new Batch(3, 2, 2, new float[12], null, null, new int[] {3, 1});
    float[] logits = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
    Prediction p = Prediction.of(c, List.of("x", "y"), null, batch, logits, false);
    assertArrayEquals(new int[] {1, 1, 1, -1, 1, -1}, p.ids());
    assertEquals(List.of("yyy", "y"), p.text());
    ModelConfig one = new ModelConfig(CellType.RNN, 1, 2, 2, 2, Mode.SEQ2ONE, LossType.CROSS_ENTROPY);
    assertArrayEquals(new int[] {0, 1}, Prediction.of(one, null, null, batch, new float[] {2, 1, 0, 3}, false).ids());
  }

  @Test
  void generatedIdsDecodePerSequence() {
    // N = 2 steps, B = 2: ids [n][b] = {0, 1, 2, 3}: sequence 0 took 0 then 2, sequence 1 took 1 then 3
    Generation g = new Generation(2, 2, new float[0], new int[] {0, 1, 2, 3});
    assertEquals(List.of("ac", "bd"), g.decode(List.of("a", "b", "c", "d")));
  }

  // h' = tanh(A x + C h + BIAS), y = W h' + D; inputs scaled with mean 3, std 2, targets with mean −1, std 0.5
  public static final double A = 0.8, C = 0.5, BIAS = 0.1, W = 1.2, D = -0.3;

  /** The scalar RNN above with those statistics (also the closed loop's fixture, ClosedLoopUnitsTest). */
  public static TrainedModel scalarRnn() {
    Params p = Params.zeros(new ModelConfig(CellType.RNN, 1, 1, 1, 1, Mode.SEQ2SEQ, LossType.MSE));
    p.set(ParamLayout.weightIhName(0), new float[] {(float) A});
    p.set(ParamLayout.weightHhName(0), new float[] {(float) C});
    p.set(ParamLayout.biasIhName(0), new float[] {(float) BIAS});
    p.set(ParamLayout.HEAD_WEIGHT, new float[] {(float) W});
    p.set(ParamLayout.HEAD_BIAS, new float[] {(float) D});
    return TrainedModel.of(p, Map.of(ModelMetadata.KEY_NORMALIZATION, Json.write(Map.of(
        "input_mean", List.of(3.0), "input_std", List.of(2.0), "target_mean", List.of(-1.0), "target_std", List.of(0.5)))));
  }

  @Test
  void continuousGenerationFeedsEachOutputBackInTheInputsUnitsFromEachSequencesLastStep() {
    // primer T = 3, B = 2, lengths {3, 1} (model units): sequence 1's real step is x = 1.0, then padding
    float[] x = {0.2f, 1.0f, -0.4f, 9f, 0.7f, 9f};
    Batch primer = new Batch(3, 2, 1, x, null, null, new int[] {3, 1});
    Generation g = Generation.run(scalarRnn(), new ReferenceEngine(), primer, 4, Sampler.identity());
    for (int b = 0; b < 2; b++) {
      int length = b == 0 ? 3 : 1;
      double h = 0;
      double y = 0;
      for (int t = 0; t < length; t++) {
        h = Math.tanh(A * x[t * 2 + b] + C * h + BIAS);
        y = W * h + D;
      }
      for (int n = 0; n < 4; n++) {
        double raw = y * 0.5 - 1.0;                                  // y · t_std + t_mean
        assertEquals(raw, g.outputs()[n * 2 + b], 1e-5, "sequence " + b + ", generated step " + n);
        double fed = (raw - 3.0) / 2.0;                              // (raw − i_mean) / i_std
        h = Math.tanh(A * fed + C * h + BIAS);
        y = W * h + D;
      }
    }
  }

  @Test
  void theSafetensorsHoldOutputIdsAndLengthsInTheDocumentedShapes() {
    // seq2seq, T = 3, B = 2, O = 2, lengths {3, 1}: output [T,B,O] = [3, 2, 2], ids [T,B] = [3, 2], lengths [B] = [2]
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 2, 2, 2, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
    Batch batch = new Batch(3, 2, 2, new float[12], null, null, new int[] {3, 1});
    float[] logits = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
    SafeTensorsFile f = SafeTensors.read(
        Prediction.of(c, null, null, batch, logits, false).toSafetensors(Map.of()), "p");
    assertArrayEquals(new int[] {3, 2, 2}, f.require("output").shape());
    assertArrayEquals(new int[] {3, 2}, f.require("ids").shape());
    assertArrayEquals(new int[] {1, 1, 1, -1, 1, -1}, f.require("ids").ints(), "argmax 1 on valid steps, −1 on padding");
    assertArrayEquals(new int[] {3, 1}, f.require("lengths").ints());
    // seq2one, B = 2, no lengths: output [B,O] = [2, 2], ids [B] = [2], no lengths tensor
    ModelConfig one = new ModelConfig(CellType.RNN, 1, 2, 2, 2, Mode.SEQ2ONE, LossType.CROSS_ENTROPY);
    Batch full = Batch.inputsOnly(3, 2, 2, new float[12]);
    SafeTensorsFile g = SafeTensors.read(
        Prediction.of(one, null, null, full, new float[] {2, 1, 0, 3}, false).toSafetensors(Map.of()), "p");
    assertArrayEquals(new int[] {2, 2}, g.require("output").shape());
    assertArrayEquals(new int[] {2}, g.require("ids").shape());
    assertArrayEquals(new int[] {0, 1}, g.require("ids").ints());
    assertEquals(Set.of("output", "ids"), g.tensors().keySet());
  }

  @Test
  void textLinesEscapeBackslashNewlineCarriageReturnAndTab() {
    // the documented escapes, one line per sequence: \ → \\, newline → \n, CR → \r, tab → \t
    assertEquals("a\\rb\\\\\nc\\nd\\te\n", Prediction.textLines(List.of("a\rb\\", "c\nd\te")));
  }

  @Test
  void continuousGenerationRefusesZeroSteps() {
    Batch primer = Batch.inputsOnly(1, 1, 1, new float[] {0.5f});
    BadInputException e = assertThrows(BadInputException.class,
        () -> Generation.run(scalarRnn(), new ReferenceEngine(), primer, 0, Sampler.identity()));
    assertEquals("--steps must be at least 1, found 0", e.getMessage());
  }
}
