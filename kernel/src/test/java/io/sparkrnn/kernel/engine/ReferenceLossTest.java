package io.sparkrnn.kernel.engine;

import static io.sparkrnn.kernel.testing.NumericAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.Params;
import io.sparkrnn.kernel.model.State;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The reference's loss bookkeeping against hand computations. With every parameter zero, every
 * cell's h stays 0 (rnn: tanh(0) = 0; lstm: c = ½·0 + ½·tanh(0) = 0, h = ½·tanh(0) = 0;
 * gru: n = tanh(0) = 0, h' = ½·0 + ½·0 = 0) and the head outputs y = 0, so the losses are known
 * in closed form and only the head bias has a gradient (dHeadWeight = dy ⊗ h = 0).
 */
class ReferenceLossTest {
  /** float64 sums of a handful of exact terms, then one float32 rounding of the mean gradient. */
  static final double TOL = 1e-7;

  @Test
  void crossEntropyMeanIsPerValidStepAndSkipsPaddedSteps() {
    // seq2seq, O = 3, T = 3, B = 2, lengths {3, 1}: valid (t, b) = (0,0) (0,1) (1,0) (2,0), 4 terms.
    // torch.nn.CrossEntropyLoss (mean): y = 0 ⇒ softmax = 1/3 ⇒ each term −log(1/3) = ln 3, mean ln 3.
    for (CellType cell : CellType.values()) {
      ModelConfig config = new ModelConfig(cell, 1, 1, 2, 3, Mode.SEQ2SEQ, LossType.CROSS_ENTROPY);
      float[] x = new float[3 * 2];
      Arrays.fill(x, 1f);
      // classes [T][B]: (0,0)=0 (0,1)=2 (1,0)=1 (2,0)=0; (1,1) and (2,1) are padding
      int[] classes = {0, 2, 1, 0, 0, 0};
      Batch batch = new Batch(3, 2, 1, x, null, classes, new int[] {3, 1});
      Params params = Params.zeros(config);
      GradientSum sum = new ReferenceEngine().lossAndGradient(params, batch, null).gradients();
      assertEquals(4, sum.count(), cell + ": one term per valid step");
      assertEquals(4 * Math.log(3), sum.lossSum(), 1e-12, cell + ": loss sum");
      assertEquals(Math.log(3), sum.meanLoss(), 1e-12, cell + ": mean loss");
      // d/db_o = Σ (softmax_o − onehot_o) = 4/3 − (count of class o) = (4/3 − 2, 4/3 − 1, 4/3 − 1);
      // divided by the 4 terms: (−1/6, 1/12, 1/12).
      float[] mean = sum.meanGradient();
      int hb = params.layout().headBias();
      assertClose(new double[] {-1.0 / 6, 1.0 / 12, 1.0 / 12}, Arrays.copyOfRange(mean, hb, hb + 3), TOL, cell + ": dHeadBias");
      float[] rest = Arrays.copyOf(mean, hb);
      assertClose(new double[hb], rest, 0, cell + ": gradients other than the head bias");
    }
  }

  @Test
  void mseMeanIsPerOutputElement() {
    // seq2one, O = 2, B = 2, T = 2, lengths {2, 1}; targets [B][O] = {1, 2}, {3, −1}.
    // torch.nn.MSELoss (mean over every element): y = 0 ⇒ sum = 1 + 4 + 9 + 1 = 15 over B·O = 4 terms.
    for (CellType cell : CellType.values()) {
      ModelConfig config = new ModelConfig(cell, 1, 1, 2, 2, Mode.SEQ2ONE, LossType.MSE);
      float[] x = {1f, -1f, 0.5f, 2f};
      Batch batch = new Batch(2, 2, 1, x, new float[] {1f, 2f, 3f, -1f}, null, new int[] {2, 1});
      Params params = Params.zeros(config);
      GradientSum sum = new ReferenceEngine().lossAndGradient(params, batch, null).gradients();
      assertEquals(4, sum.count(), cell + ": B·O terms");
      assertEquals(15, sum.lossSum(), 1e-12, cell + ": loss sum");
      assertEquals(3.75, sum.meanLoss(), 1e-12, cell + ": mean loss");
      // d/db_o = Σ_b 2 (y − target) = 2·(−(1 + 3), −(2 − 1)) = (−8, −2); mean over 4 terms (−2, −0.5).
      float[] mean = sum.meanGradient();
      int hb = params.layout().headBias();
      assertClose(new double[] {-2, -0.5}, Arrays.copyOfRange(mean, hb, hb + 2), TOL, cell + ": dHeadBias");
    }
  }

  @Test
  void anRnnStartsFromTheGivenHiddenState() {
    // F = H = O = 1, one step, target 0. state_dict order: weight_ih 0.5, weight_hh 2, bias_ih 0.1,
    // bias_hh −0.2, head.weight 1.5, head.bias 0.3. With x = 1 and h_0 = 0.5 (PyTorch's h_0):
    // h_1 = tanh(0.5·1 + 0.1 + 2·0.5 − 0.2) = tanh(1.4), y = 1.5 h_1 + 0.3, loss sum y².
    ModelConfig c = new ModelConfig(CellType.RNN, 1, 1, 1, 1, Mode.SEQ2ONE, LossType.MSE);
    double[] p = {0.5, 2, 0.1, -0.2, 1.5, 0.3};
    Batch b = new Batch(1, 1, 1, new float[] {1f}, new float[] {0f}, null, null);
    State h0 = new State(1, 1, 1, new float[] {0.5f}, null);
    double y = 1.5 * Math.tanh(1.4) + 0.3;
    assertEquals(y * y, ReferenceEngine.loss(c, p, b, h0), 1e-12);
  }

  @Test
  void anLstmStartsFromTheGivenCellState() {
    // F = H = O = 1, one step, x = 0, h_0 = 0, c_0 = 0.5; weights 0, bias_ih (i, f, g, o) =
    // (0, 1, 0.5, 2), bias_hh 0, head.weight 1, head.bias 0. PyTorch's LSTM:
    // c_1 = σ(1)·0.5 + σ(0)·tanh(0.5), h_1 = σ(2)·tanh(c_1), y = h_1, loss sum y².
    ModelConfig c = new ModelConfig(CellType.LSTM, 1, 1, 1, 1, Mode.SEQ2ONE, LossType.MSE);
    double[] p = new double[4 + 4 + 4 + 4 + 1 + 1];
    p[8] = 0; p[9] = 1; p[10] = 0.5; p[11] = 2; // bias_ih at offset 4 + 4
    p[16] = 1; // head.weight
    Batch b = new Batch(1, 1, 1, new float[] {0f}, new float[] {0f}, null, null);
    State s0 = new State(1, 1, 1, new float[] {0f}, new float[] {0.5f});
    double c1 = sigmoid(1) * 0.5 + sigmoid(0) * Math.tanh(0.5);
    double y = sigmoid(2) * Math.tanh(c1);
    assertEquals(y * y, ReferenceEngine.loss(c, p, b, s0), 1e-12);
  }

  private static double sigmoid(double a) {
    return 1 / (1 + Math.exp(-a));
  }
}
