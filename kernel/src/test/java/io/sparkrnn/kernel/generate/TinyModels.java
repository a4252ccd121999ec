package io.sparkrnn.kernel.generate;

import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;

/** Hand-set models whose behaviour is known in closed form. */
final class TinyModels {
  private TinyModels() {}

  /** Input scale of the successor model: h = tanh(INPUT_GAIN · onehot(i)). */
  static final float INPUT_GAIN = 3f;

  /**
   * A vocabulary-V RNN (F = H = O = V, seq2seq, cross_entropy) that predicts the successor
   * (i + 1) mod V of its input symbol i: W_ih = 3·I, W_hh = 0, biases 0, so h = tanh(3)·e_i; the head
   * row o reads unit (o − 1) mod V, so the largest logit is o = (i + 1) mod V, by tanh(3) ≈ 0.995
   * over the others (all 0). {@code headGain} scales the head, to make softmax sharper or flatter.
   */
  static Params successor(int V, float headGain, Mode mode) {
    ModelConfig config = new ModelConfig(CellType.RNN, 1, V, V, V, mode, LossType.CROSS_ENTROPY);
    Params p = Params.zeros(config);
    float[] wIh = new float[V * V];
    float[] head = new float[V * V];
    for (int i = 0; i < V; i++) {
      wIh[i * V + i] = INPUT_GAIN;
      int o = (i + 1) % V;
      head[o * V + i] = headGain;                                  // logit_o = gain · h_{(o−1) mod V}
    }
    p.set(ParamLayout.weightIhName(0), wIh);
    p.set(ParamLayout.HEAD_WEIGHT, head);
    return p;
  }

  /** The scalar recurrence of {@link #scalar}: h' = tanh(A x + C h + BIAS), y = W h' + D. */
  static final float A = 0.8f, C = 0.5f, BIAS = 0.1f, W = 1.5f, D = -0.2f;

  /** F = H = O = 1, mse, seq2seq: h_t = tanh(A x_t + C h_{t−1} + BIAS), y_t = W h_t + D. */
  static Params scalar() {
    ModelConfig config = new ModelConfig(CellType.RNN, 1, 1, 1, 1, Mode.SEQ2SEQ, LossType.MSE);
    Params p = Params.zeros(config);
    p.set(ParamLayout.weightIhName(0), new float[] {A});
    p.set(ParamLayout.weightHhName(0), new float[] {C});
    p.set(ParamLayout.biasIhName(0), new float[] {BIAS});
    p.set(ParamLayout.HEAD_WEIGHT, new float[] {W});
    p.set(ParamLayout.HEAD_BIAS, new float[] {D});
    return p;
  }

  /** One step of {@link #scalar} in float64: returns {h', y}. */
  static double[] scalarStep(double x, double h) {
    double hNext = Math.tanh(A * x + C * h + BIAS);                // h' = tanh(A x + C h + b)
    return new double[] {hNext, W * hNext + D};                    // y = W h' + D
  }
}
