package io.sparkrnn.kernel.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkrnn.kernel.engine.BpttResult;
import io.sparkrnn.kernel.model.Batch;
import io.sparkrnn.kernel.model.CellType;
import io.sparkrnn.kernel.model.LossType;
import io.sparkrnn.kernel.model.Mode;
import io.sparkrnn.kernel.model.ModelConfig;
import io.sparkrnn.kernel.model.ParamLayout;
import io.sparkrnn.kernel.model.Params;
import org.junit.jupiter.api.Test;

/**
 * Cross-entropy on logits far from 0, where e^y underflows: the loss and its gradient must be
 * computed shifted by the row's largest logit (log Σ e^y = m + log Σ e^(y − m)), as a diverging or
 * very confident model produces such logits.
 */
class JvmEngineLossTest {

  /**
   * All weights 0, so h = tanh(0) = 0 and the logits are the head bias alone: y_k = −1000 − k for
   * the O = 4 classes (e^−1000 underflows to 0 in float64). Shift-free closed form: with
   * Z = Σ_k e^−k, −log softmax(y)[c] = log Z + c and softmax_k = e^−k / Z, so the loss sum is
   * Σ_b (log Z + c_b) and d loss / d head bias_k = Σ_b (e^−k / Z − [k = c_b]).
   */
  @Test
  void crossEntropyOfLogitsFarBelowZeroIsFinite() {
    int O = 4;
    ModelConfig config = new ModelConfig(CellType.RNN, 1, 2, 3, O, Mode.SEQ2ONE, LossType.CROSS_ENTROPY);
    Params params = Params.zeros(config);
    ParamLayout layout = params.layout();
    for (int k = 0; k < O; k++) {
      params.values()[layout.headBias() + k] = -1000f - k;
    }
    int[] classes = {0, 2, 3};
    int B = classes.length;
    int T = 2;
    Batch batch = new Batch(T, B, 2, new float[T * B * 2], null, classes, null);
    double z = 0;
    for (int k = 0; k < O; k++) {
      z += Math.exp(-k);
    }
    double loss = 0;
    for (int c : classes) {
      loss += Math.log(z) + c;
    }
    for (MathKernels math : new MathKernels[] {MathKernels.best(), MathKernels.scalar()}) {
      try (JvmEngine engine = new JvmEngine(math, 2)) {
        BpttResult r = engine.lossAndGradient(params, batch, null);
        assertEquals(loss, r.gradients().lossSum(), 1e-4, math.describe() + ": loss sum");
        for (int k = 0; k < O; k++) {
          double want = 0;
          for (int c : classes) {
            want += Math.exp(-k) / z - (k == c ? 1 : 0);
          }
          assertEquals(want, r.gradients().gradient()[layout.headBias() + k], 1e-6, math.describe() + ": d head bias " + k);
        }
      }
    }
  }
}
